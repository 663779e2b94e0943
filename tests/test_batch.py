"""earmark batch: partition planning, fingerprints, commit and resume, and the same answers as
the single-process commands (predict, detect, embed) on a small local Dask cluster."""

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import soundfile as sf

sys.path.insert(0, str(Path(__file__).parent))
from _signals import FAST, SR, make_clip, write_dataset  # noqa: E402

import earmark  # noqa: E402
from earmark.batch import format_status, job_status, read_results, run_batch  # noqa: E402
from earmark.batch.job import (auto_partition_s, plan_partitions, quick_hash,  # noqa: E402
                               read_part_meta, scan_inputs)
from earmark.batch.tables import to_arrow  # noqa: E402
from earmark.cli import main  # noqa: E402
from earmark.data.sources import expand_sources  # noqa: E402
from earmark.errors import ParameterError  # noqa: E402

pytest.importorskip("distributed")


# -- no cluster --------------------------------------------------------------------------------
def _inputs(durations):
    return pd.DataFrame({"path": [f"f{i}.wav" for i in range(len(durations))], "start_s": None,
                         "end_s": None, "duration_s": durations})


def test_partitions_hold_about_partition_s_of_audio_and_never_split_a_file():
    parts = plan_partitions(_inputs([10, 10, 10, 35, 5, 100, 0]), partition_s=30, first_index=7)
    assert [p.index for p in parts] == [7, 8, 9, 10, 11]
    # a 35 s file alone; an unknown duration (0: the file cannot be read) counts as one second
    assert [[k[0] for k in p.items] for p in parts] == [
        ["f0.wav", "f1.wav", "f2.wav"], ["f3.wav"], ["f4.wav"], ["f5.wav"], ["f6.wav"]]
    assert [p.audio_s for p in parts] == [30.0, 35.0, 5.0, 100.0, 1.0]
    assert len(plan_partitions(_inputs([1.0] * 10), partition_s=100, max_inputs=4)) == 3
    with pytest.raises(ParameterError, match="partition_s"):
        plan_partitions(_inputs([1.0]), partition_s=0)


def test_auto_partition_gives_about_8_tasks_per_thread_within_bounds():
    assert auto_partition_s(3600 * 10, 4) == pytest.approx(600.0)       # capped at 10 min
    assert auto_partition_s(60, 2) == 30.0                               # at least 30 s
    assert auto_partition_s(4800, 2) == pytest.approx(300.0)


def test_quick_hash_reads_the_size_and_both_ends(tmp_path):
    a = tmp_path / "a.bin"
    data = bytearray(os.urandom(3 << 20))
    a.write_bytes(data)
    h = quick_hash(a)
    data[(3 << 20) // 2] ^= 0xFF                      # the middle: not read (documented)
    a.write_bytes(data)
    assert quick_hash(a) == h
    data[-1] ^= 0xFF                                  # the last MiB: read
    a.write_bytes(data)
    assert quick_hash(a) != h
    small = tmp_path / "s.bin"
    small.write_bytes(b"x" * 1000)
    h = quick_hash(small)
    small.write_bytes(b"x" * 500 + b"y" + b"x" * 499)  # a small file is hashed whole
    assert quick_hash(small) != h


def test_scan_reuses_the_hash_of_unchanged_files(tmp_path, monkeypatch):
    from earmark.batch import job

    for i in range(3):
        sf.write(tmp_path / f"c{i}.wav", np.zeros(SR // 2, np.float32), SR)
    sources = expand_sources([str(tmp_path)])
    first = scan_inputs(sources)
    assert first["duration_s"].tolist() == [0.5, 0.5, 0.5]
    calls = []
    real = job.quick_hash
    monkeypatch.setattr(job, "quick_hash", lambda p, s=None: calls.append(p) or real(p, s))
    os.utime(tmp_path / "c1.wav", ns=(1, 1))          # touched: hashed again, same hash
    again = scan_inputs(sources, previous=first)
    assert calls == [str(tmp_path / "c1.wav")]
    assert again["hash"].tolist() == first["hash"].tolist()


def test_a_partition_of_failed_files_keeps_the_column_types():
    t = pd.DataFrame({"path": ["a.wav"], "label": [None], "kick": [np.nan], "error": ["bad"]})
    schema = to_arrow(t, {b"k": b"v"}).schema
    assert [str(f.type) for f in schema] == ["string", "string", "double", "string"]
    assert schema.metadata[b"k"] == b"v"


def test_the_docstring_examples_of_the_job_module_run():
    import doctest

    from earmark.batch import job

    result = doctest.testmod(job, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_status_of_a_folder_without_a_job_is_a_clear_error(tmp_path):
    with pytest.raises(ParameterError, match="not an earmark batch output folder"):
        job_status(tmp_path)


# -- on a local cluster --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def model(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch_model")
    data = write_dataset(root / "data", per_class=6)
    clf = earmark.SoundClassifier(**{**FAST, "epochs": 2, "val_fraction": None})
    clf.fit(str(data))
    return str(clf.save(root / "m.earmark"))


def _write_archive(root, n=12, seed=1):
    rng = np.random.default_rng(seed)
    kinds = ("low", "high", "noise")
    for i in range(n):
        folder = root / ("a" if i % 2 else "b")
        folder.mkdir(parents=True, exist_ok=True)
        sf.write(folder / f"clip_{i:02d}.wav", make_clip(kinds[i % 3], rng, dur=0.5 + 0.1 * i),
                 SR, subtype="PCM_16")
    (root / "broken.wav").write_bytes(b"not audio at all")
    return root


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return _write_archive(tmp_path_factory.mktemp("batch_archive") / "archive")


@pytest.fixture(scope="module")
def client():
    import dask
    from distributed import Client, LocalCluster

    with dask.config.set({"distributed.scheduler.allowed-failures": 2}):
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=50)
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()


def _inputs_once(out, n):
    """Every part's inputs, each input in exactly one part; returns the paths."""
    keys = []
    for f in sorted(Path(out).glob("part-*.parquet")):
        keys += [tuple(i[:3]) for i in read_part_meta(f)["inputs"]]
    assert len(keys) == len(set(keys)) == n
    return sorted(k[0] for k in keys)


def _single(args, tmp_path, name="single.parquet"):
    out = tmp_path / name
    assert main([*map(str, args), "--out", str(out), "-q"]) == 0
    return pd.read_parquet(out)


def _sorted(t, by):
    return t.sort_values(by, kind="stable").reset_index(drop=True)


@pytest.mark.slow
def test_batch_predict_equals_earmark_predict_row_for_row(model, archive, client, tmp_path,
                                                          capsys):
    out = tmp_path / "results"
    r = run_batch("predict", [str(archive)], out, model=model, client=client, partition_s=2.0,
                  progress=False, quiet=True)
    assert (r.inputs, r.processed, r.done_before, r.failed, r.errors) == (13, 13, 0, 0, 1)
    assert len(list(out.glob("part-*.parquet"))) > 3           # several tasks
    batch = _sorted(read_results(out), ["path"])
    single = _sorted(_single(["predict", model, archive], tmp_path), ["path"])
    assert batch.columns.tolist() == single.columns.tolist()
    pd.testing.assert_frame_equal(batch, single, check_dtype=False, rtol=1e-5)
    assert batch["error"].notna().sum() == 1 and "broken.wav" in batch.dropna(
        subset=["error"])["path"].iloc[0]
    assert _inputs_once(out, 13) == sorted(batch["path"])
    # the folder is a Parquet dataset that pandas (pyarrow) reads as one table
    assert len(pd.read_parquet(out)) == 13
    # status, and a rerun that has nothing to do
    s = job_status(out)
    assert (s["inputs"], s["done"], s["todo"], s["failed"], s["running"]) == (13, 13, 0, 0, False)
    assert "done" in format_status(s)
    r2 = run_batch("predict", [str(archive)], out, model=model, client=client, quiet=True)
    assert (r2.processed, r2.done_before) == (0, 13)
    capsys.readouterr()
    assert main(["batch", "status", str(out), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["done"] == 13 and s["audio_h_per_h"] > 0


@pytest.mark.slow
def test_a_rerun_does_only_what_was_not_committed(model, archive, client, tmp_path):
    out = tmp_path / "results"
    run_batch("predict", [str(archive)], out, model=model, client=client, partition_s=2.0,
              progress=False, quiet=True)
    full = _sorted(read_results(out), ["path"])
    parts = sorted(out.glob("part-*.parquet"))
    # as a run killed before these partitions were committed leaves the folder: their files
    # absent, a worker's staging file and a half-written temporary file
    lost = parts[1:3]
    n_lost = sum(len(read_part_meta(p)["inputs"]) for p in lost)
    for p in lost:
        p.unlink()
    (out / "_earmark" / "staging" / "part-00001.abc.parquet").write_bytes(b"partial")
    tmp = out / ".part-00001.parquet.abcdefgh.earmark.tmp"
    tmp.write_bytes(b"partial")
    os.utime(tmp, (1, 1))
    assert job_status(out)["todo"] == n_lost
    r = run_batch("predict", [str(archive)], out, model=model, client=client, partition_s=2.0,
                  progress=False, quiet=True)
    assert (r.processed, r.done_before) == (n_lost, 13 - n_lost)
    assert not tmp.exists() and os.listdir(out / "_earmark" / "staging") == []
    _inputs_once(out, 13)
    pd.testing.assert_frame_equal(_sorted(read_results(out), ["path"]), full)


@pytest.mark.slow
def test_changed_new_files_and_another_model(model, client, tmp_path):
    archive = _write_archive(tmp_path / "archive", n=6)
    out = tmp_path / "results"
    run_batch("predict", [str(archive)], out, model=model, client=client, progress=False,
              quiet=True)
    rng = np.random.default_rng(5)
    changed = archive / "a" / "clip_01.wav"
    sf.write(changed, make_clip("high", rng, dur=1.5), SR, subtype="PCM_16")
    sf.write(archive / "b" / "new.wav", make_clip("low", rng, dur=0.7), SR, subtype="PCM_16")
    r = run_batch("predict", [str(archive)], out, model=model, client=client, progress=False,
                  quiet=True)
    assert r.changed == [str(changed)]
    assert (r.processed, r.done_before) == (2, 6)
    _inputs_once(out, 8)
    batch = _sorted(read_results(out), ["path"])
    single = _sorted(_single(["predict", model, archive], tmp_path), ["path"])
    pd.testing.assert_frame_equal(batch, single, check_dtype=False, rtol=1e-5)
    # other settings (or another model) are refused, then --restart starts over
    with pytest.raises(ParameterError, match="another job.*--restart"):
        run_batch("predict", [str(archive)], out, model=model, windows=True, client=client,
                  quiet=True)
    r = run_batch("predict", [str(archive)], out, model=model, windows=True, restart=True,
                  client=client, progress=False, quiet=True)
    assert (r.processed, r.done_before) == (8, 0)
    batch = _sorted(read_results(out), ["path", "start_s"])
    single = _sorted(_single(["predict", model, archive, "--windows"], tmp_path, "w.parquet"),
                     ["path", "start_s"])
    pd.testing.assert_frame_equal(batch, single, check_dtype=False, rtol=1e-5)


def test_an_output_folder_with_other_files_is_refused(model, archive, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ParameterError, match="holds other files"):
        run_batch("predict", [str(archive)], tmp_path, model=model, quiet=True)
    assert os.listdir(tmp_path) == ["notes.txt"]


@pytest.mark.slow
def test_batch_detect_and_embed_equal_the_single_process_commands(client, tmp_path):
    from _detection_signals import FAST_DETECTOR, write_detection_dataset
    from earmark.data import load_dataset

    data = write_detection_dataset(tmp_path / "det", n_clips=12)
    det = earmark.SoundDetector(**{**FAST_DETECTOR, "epochs": 2})
    det.fit(load_dataset(str(data), annotations=str(data / "annotations.csv")))
    det_path = str(det.save(tmp_path / "det.earmark"))
    audio = data / "audio"
    shutil.copy(__file__, audio / "broken.wav")                 # not audio: an error row

    out = tmp_path / "events"
    r = run_batch("detect", [str(audio)], out, model=det_path, client=client, partition_s=8,
                  progress=False, quiet=True)
    assert (r.processed, r.errors) == (13, 1)
    batch = read_results(out)
    errors = batch[batch["error"].notna()]
    assert errors["filename"].str.endswith("broken.wav").all() and len(errors) == 1
    single = _single(["detect", det_path, audio], tmp_path, "events.parquet")
    by = ["filename", "onset", "event_label"]
    pd.testing.assert_frame_equal(_sorted(batch[batch["error"].isna()].drop(columns="error"),
                                          by), _sorted(single, by), check_dtype=False,
                                  rtol=1e-5)
    _inputs_once(out, 13)

    out = tmp_path / "embeddings"
    r = run_batch("embed", [str(audio)], out, model="classic", client=client, partition_s=8,
                  progress=False, quiet=True)
    assert (r.processed, r.errors) == (13, 1)
    batch = read_results(out)
    assert pq.read_schema(next(out.glob("part-*.parquet"))).metadata[b"earmark.embedder"]
    single = _single(["embed", audio, "--model", "classic"], tmp_path, "emb.parquet")
    ok = _sorted(batch[batch["error"].isna()].drop(columns="error"), ["path", "start_s"])
    single = _sorted(single, ["path", "start_s"])
    pd.testing.assert_frame_equal(ok.drop(columns="embedding"),
                                  single.drop(columns="embedding"), check_dtype=False)
    np.testing.assert_allclose(np.stack(ok["embedding"]), np.stack(single["embedding"]),
                               rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_a_partition_that_keeps_failing_is_reported_then_redone(model, archive, client,
                                                                 tmp_path):
    def break_partitions_holding(name):          # runs on each worker (pickled by value)
        import earmark.batch.worker as w

        real = getattr(w, "_real_predict_rows", w.predict_rows)

        def broken(model, items, **kw):
            if any(name in i.path for i in items):
                raise RuntimeError("disk on fire")
            return real(model, items, **kw)

        w._real_predict_rows, w.predict_rows = real, broken

    def repair():
        import earmark.batch.worker as w
        w.predict_rows = getattr(w, "_real_predict_rows", w.predict_rows)

    out = tmp_path / "results"
    client.run(break_partitions_holding, "clip_03")
    try:
        r = run_batch("predict", [str(archive)], out, model=model, client=client,
                      partition_s=2.0, retries=1, progress=False, quiet=True)
    finally:
        client.run(repair)
    assert r.failed >= 1 and r.processed + r.failed == 13
    assert len(r.failures) == 1 and "disk on fire" in r.failures[0]["error"]
    s = job_status(out)
    assert (s["failed"], s["done"], s["todo"]) == (r.failed, r.processed, 0)
    assert "disk on fire" in format_status(s)
    r2 = run_batch("predict", [str(archive)], out, model=model, client=client,
                   progress=False, quiet=True)
    assert (r2.processed, r2.failed, r2.done_before) == (r.failed, 0, r.processed)
    assert job_status(out)["failed"] == 0
    _inputs_once(out, 13)
