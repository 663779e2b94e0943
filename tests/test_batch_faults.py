"""earmark batch under faults: a worker killed mid-job, and the whole job killed with SIGKILL
then run again. Every input must end up in exactly one committed partition, with its row."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _signals import FAST, write_dataset  # noqa: E402
from test_batch import _inputs_once, _sorted, _write_archive  # noqa: E402

import earmark  # noqa: E402
from earmark.batch import job_status, read_results, run_batch  # noqa: E402
from earmark.batch.job import read_part_meta  # noqa: E402

pytest.importorskip("distributed")
pytestmark = pytest.mark.slow

#: Seconds each partition waits before its work (a test hook read by the workers): long enough
#: to kill a worker, or the job, while partitions are running.
DELAY_S = "0.6"


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults_model")
    data = write_dataset(root / "data", per_class=6)
    clf = earmark.SoundClassifier(**{**FAST, "epochs": 2, "val_fraction": None})
    clf.fit(str(data))
    return str(clf.save(root / "m.earmark"))


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return _write_archive(tmp_path_factory.mktemp("faults_archive") / "archive")


@pytest.fixture(scope="module")
def slow_client():
    """Two worker processes whose partitions each take DELAY_S longer (restarted ones too)."""
    import dask
    from distributed import Client, LocalCluster

    before = os.environ.get("EARMARK_BATCH_TEST_DELAY_S")
    os.environ["EARMARK_BATCH_TEST_DELAY_S"] = DELAY_S
    try:
        with dask.config.set({"distributed.scheduler.allowed-failures": 3}):
            cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=50)
        client = Client(cluster)
        yield client
        client.close()
        cluster.close()
    finally:
        if before is None:
            os.environ.pop("EARMARK_BATCH_TEST_DELAY_S", None)
        else:
            os.environ["EARMARK_BATCH_TEST_DELAY_S"] = before


def _wait_for_parts(out, n, timeout_s=120):
    end = time.time() + timeout_s
    while time.time() < end:
        if len(list(Path(out).glob("part-*.parquet"))) >= n:
            return True
        time.sleep(0.05)
    return False


def test_a_worker_killed_mid_job_loses_no_row(model, archive, slow_client, tmp_path):
    out = tmp_path / "results"
    killed = []

    def kill_a_busy_worker():
        if not _wait_for_parts(out, 1):
            return
        busy = [w for w, tasks in slow_client.processing().items() if tasks]
        if not busy:
            return
        pids = slow_client.run(os.getpid, workers=busy[:1])
        pid = next(iter(pids.values()))
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    killer = threading.Thread(target=kill_a_busy_worker)
    killer.start()
    r = run_batch("predict", [str(archive)], out, model=model, client=slow_client,
                  partition_s=1.5, progress=False, quiet=True)
    killer.join()
    assert killed, "no worker was busy to kill"
    assert (r.processed, r.failed, r.errors) == (13, 0, 1)
    _inputs_once(out, 13)
    assert len(read_results(out)) == 13
    pids = slow_client.run(os.getpid)
    assert killed[0] not in pids.values()          # the nanny started a new worker


def test_a_job_killed_with_sigkill_resumes_without_losing_or_duplicating(model, archive,
                                                                         slow_client, tmp_path):
    out = tmp_path / "results"
    env = dict(os.environ, EARMARK_BATCH_TEST_DELAY_S=DELAY_S)
    cmd = [sys.executable, "-m", "earmark", "batch", "predict", model, str(archive), "--out",
           str(out), "--workers", "1", "--partition-minutes", "0.02", "-q"]
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert _wait_for_parts(out, 3), p.communicate(timeout=5)
        p.send_signal(signal.SIGKILL)
    finally:
        p.wait(timeout=60)
    assert p.returncode == -signal.SIGKILL
    # what the killed job left: only complete parts, each with its inputs
    committed = []
    for f in sorted(out.glob("part-*.parquet")):
        meta = read_part_meta(f)
        assert meta is not None and len(pd.read_parquet(f)) == meta["rows"]
        committed += [tuple(i[:3]) for i in meta["inputs"]]
    k = len(committed)
    assert 3 <= k < 13
    s = job_status(out)
    assert (s["done"], s["todo"], s["running"]) == (k, 13 - k, False)
    assert s["state"].startswith("stopped")

    r = run_batch("predict", [str(archive)], out, model=model, client=slow_client,
                  progress=False, quiet=True)
    assert (r.done_before, r.processed) == (k, 13 - k)
    _inputs_once(out, 13)
    assert os.listdir(out / "_earmark" / "staging") == []
    single = earmark.load(model).predict_table([str(archive)], progress=False)
    pd.testing.assert_frame_equal(_sorted(read_results(out), ["path"]),
                                  _sorted(single, ["path"]), check_dtype=False, rtol=1e-5)


def test_ctrl_c_stops_the_job_leaving_only_committed_partitions(model, archive, tmp_path):
    out = tmp_path / "results"
    env = dict(os.environ, EARMARK_BATCH_TEST_DELAY_S=DELAY_S)
    cmd = [sys.executable, "-m", "earmark", "batch", "predict", model, str(archive), "--out",
           str(out), "--workers", "1", "--partition-minutes", "0.02"]
    # Ctrl-C in a terminal: SIGINT to the whole process group (the driver and its workers)
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, start_new_session=True)
    try:
        assert _wait_for_parts(out, 1), p.communicate(timeout=5)
        os.killpg(p.pid, signal.SIGINT)
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    assert p.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    for f in out.glob("part-*.parquet"):
        assert len(pd.read_parquet(f)) == read_part_meta(f)["rows"]
    assert os.listdir(out / "_earmark" / "staging") == []
    s = job_status(out)
    assert s["state"] == "interrupted" and s["done"] + s["todo"] == 13 and s["todo"] > 0
