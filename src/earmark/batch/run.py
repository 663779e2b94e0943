"""The driver of a batch job: plan, submit to a Dask cluster, commit, retry, report.

Without a scheduler address the job starts a :class:`distributed.LocalCluster` of worker
processes on this machine (one per core by default, one thread each); with one, it uses that
cluster as it is. Each partition is one task (``retries`` for errors inside it; the scheduler's
``allowed-failures`` for workers that die running it); a partition that still fails is written to
``_earmark/failed.json``, reported, and tried again by the next run. Every finished partition is
committed at once, so Ctrl-C, SIGTERM or SIGKILL lose at most the partitions being computed.
"""

import contextlib
import logging
import os
import sys
import time
import uuid
from dataclasses import dataclass, field

from .._validation import check_choice, check_number
from ..errors import DatasetError, ParameterError
from .job import (JobSpec, _now, auto_partition_s, clean_staging, commit_part, file_sha256,
                  input_key, open_job, plan_partitions, read_inputs, reconcile, scan_inputs,
                  write_failed)
from .tables import COMMANDS

__all__ = ["run_batch", "BatchResult"]

_NEEDS_EXTRA = ("earmark batch needs Dask distributed: pip install 'earmark[batch]' (dask, "
                "distributed)")


@dataclass
class BatchResult:
    """What a run did.

    Attributes
    ----------
    out : str
        The output folder (a Parquet dataset).
    inputs : int
        Inputs of the job (files, or regions of CSV lists).
    done_before : int
        Inputs committed by earlier runs, skipped.
    processed : int
        Inputs committed by this run.
    failed : int
        Inputs of partitions that failed after their retries (redone by the next run).
    changed : list of str
        Files that changed since an earlier run committed them: their rows were removed and
        they were processed again.
    rows : int
        Rows written by this run.
    errors : int
        Rows of this run holding a file's error.
    audio_s : float
        Seconds of audio processed by this run.
    elapsed_s : float
        Wall time from the first task submitted to the last commit.
    interrupted : bool
        Stopped by Ctrl-C / SIGTERM.
    dashboard : str or None
        The Dask dashboard address, when there was one.
    """

    out: str
    inputs: int = 0
    done_before: int = 0
    processed: int = 0
    failed: int = 0
    changed: list = field(default_factory=list)
    rows: int = 0
    errors: int = 0
    audio_s: float = 0.0
    elapsed_s: float = 0.0
    interrupted: bool = False
    dashboard: str = None
    failures: list = field(default_factory=list)

    @property
    def audio_hours_per_hour(self):
        """Throughput: hours of audio processed per hour of wall time."""
        return self.audio_s / self.elapsed_s if self.elapsed_s > 0 else 0.0


def _model_spec(command, model, *, windows, false_alarms, unknown, block_s, sources):
    """The JobSpec, and the reference workers load the model from."""
    settings = {}
    if command == "embed":
        from ..models.embeddings import get_embedder
        embedder = get_embedder(model)            # fails here, not on every worker
        spec_model = {"name": model, "settings": embedder.settings()}
        if model.startswith("onnx:"):
            spec_model["sha256"] = file_sha256(model[len("onnx:"):])
        import hashlib
        key = "embed-" + hashlib.sha256(f"{model}:{embedder.settings()}".encode()).hexdigest()
        return JobSpec(command, spec_model, settings), {"key": key, "embedder": model}, None
    from .. import load
    path = os.fspath(model)
    est = load(path)                              # a clear error for a bad file, before a cluster
    if command == "detect" and getattr(est, "task", None) != "detection":
        raise ParameterError(f"{path}: a {est.kind} model, not a detector (train one with "
                             "earmark train DATA --task detection)")
    if command == "predict":
        if false_alarms is not None and not hasattr(est, "set_false_alarms"):
            raise ParameterError("--false-alarms applies to novelty models only")
        if unknown is not None and getattr(est, "rejector_", None) is None:
            raise ParameterError("--unknown applies to classifiers trained with --unknown only")
        settings = {"windows": bool(windows), "false_alarms": false_alarms, "unknown": unknown,
                    "regions": bool(windows) or any(s[1] is not None or s[2] is not None
                                                    for s in sources)}
    else:
        settings = {"block_s": float(block_s)}
    with open(path, "rb") as f:
        data = f.read()
    import hashlib
    sha = hashlib.sha256(data).hexdigest()
    ref = {"key": sha, "path": os.path.abspath(path), "false_alarms": false_alarms,
           "unknown": unknown}
    return JobSpec(command, {"path": os.path.abspath(path), "sha256": sha, "kind": est.kind},
                   settings), ref, data


@contextlib.contextmanager
def _client(*, client, scheduler, workers, threads_per_worker, retries, quiet):
    """A Dask client: ``client`` as it is, to ``scheduler``, or to a LocalCluster of
    ``workers`` processes."""
    if client is not None:
        yield client
        return
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError:
        raise ParameterError(_NEEDS_EXTRA) from None
    if scheduler is not None:
        # the scheduler's own allowed-failures applies (set it where it runs)
        try:
            client = Client(scheduler, timeout="30s")
        except (OSError, TimeoutError) as exc:
            raise ParameterError(f"{scheduler}: cannot reach the Dask scheduler ({exc}); start "
                                 "one with 'dask scheduler', or leave out --scheduler to run "
                                 "on this machine") from None
        try:
            yield client
        finally:
            client.close()
        return
    try:
        import bokeh  # noqa: F401
        dashboard = ":0"
    except ImportError:
        dashboard = None                          # no dashboard, and no warning about it
    with dask.config.set({"distributed.scheduler.allowed-failures": int(retries)}):
        with _workers_ignore_ctrl_c():
            cluster = LocalCluster(n_workers=workers, threads_per_worker=threads_per_worker,
                                   processes=True, dashboard_address=dashboard,
                                   silence_logs=logging.CRITICAL if quiet else logging.ERROR)
        client = Client(cluster)
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):
            client.close()
        with contextlib.suppress(Exception):
            cluster.close()


@contextlib.contextmanager
def _workers_ignore_ctrl_c():
    """Start the local workers with SIGINT ignored (they inherit it): Ctrl-C in a terminal
    reaches the whole process group, and the driver, not each worker, should stop the job
    (cancel, close the cluster), without a traceback from every worker."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def _say(quiet, message):
    if not quiet:
        print(message, file=sys.stderr)


def run_batch(command, sources, out, *, model=None, windows=False, false_alarms=None,
              unknown=None, block_s=60.0, workers=None, threads_per_worker=1, scheduler=None,
              partition_s=None, restart=False, retries=3, progress=True, quiet=False,
              client=None):
    """Run ``earmark predict`` / ``detect`` / ``embed`` over an archive on a Dask cluster,
    into a resumable Parquet dataset.

    Parameters
    ----------
    command : {'predict', 'detect', 'embed'}
    sources : list of str
        Audio files, folders (searched recursively) and CSV lists, as for ``earmark predict``.
    out : str or path-like
        The output folder: ``part-NNNNN.parquet`` files and the job's state in ``_earmark/``.
        Run again with the same arguments, the job goes on where it stopped.
    model : str
        predict, detect: an earmark model file. embed: an embedder name ('yamnet', 'classic',
        'onnx:PATH', ...).
    windows : bool
        predict: one row per analysis window.
    false_alarms : str or None
        predict with a novelty model: the false-alarm budget ('1%', '2/h').
    unknown : str or None
        predict with a classifier trained with an unknown class: the rejection share ('10%').
    block_s : float
        detect: seconds of audio read at a time.
    workers : int or None
        Worker processes of the local cluster (default: the machine's cores). Not with
        ``scheduler``.
    threads_per_worker : int
        Threads of each local worker (default 1; torch runs one thread per worker thread).
    scheduler : str or None
        Address of a running Dask scheduler (``tcp://host:8786``); the model file's bytes are
        sent to its workers, which need read access to the audio and to ``out``.
    partition_s : float or None
        Seconds of audio per task (default: about 8 tasks per worker thread, within 30 s and
        10 min).
    restart : bool
        Delete the results of another job (other model or settings) in ``out`` and start over;
        without it such a folder is refused.
    retries : int
        Times a partition is tried again after an error or the death of its worker.
    progress : bool
        A progress bar in hours of audio.
    quiet : bool
        No messages (the summary is returned).
    client : distributed.Client or None
        Use this client's cluster as it is (a notebook's, a dask-jobqueue cluster's); neither
        ``workers`` nor ``scheduler`` then.

    Returns
    -------
    BatchResult

    Raises
    ------
    ParameterError
        Bad parameters, an ``out`` that holds another job or other files, a model that is not
        a detector (detect), Dask not installed.
    DatasetError
        No audio in ``sources``.

    Examples
    --------
    >>> r = run_batch("predict", ["archive/"], "results/", model="drums.earmark",
    ...               workers=2)                                        # doctest: +SKIP
    >>> r.processed, round(r.audio_hours_per_hour)                      # doctest: +SKIP
    (2000, 310)
    >>> import pandas as pd
    >>> pd.read_parquet("results/").sort_values("path")                # doctest: +SKIP
    """
    owner = "run_batch"
    check_choice(command, "command", owner, COMMANDS)
    if model is None:
        raise ParameterError(f"The 'model' parameter of {owner} must be a model file (predict, "
                             "detect) or an embedder name (embed). Got None instead.")
    check_number(retries, "retries", owner, low=0, closed="left", integer=True)
    check_number(threads_per_worker, "threads_per_worker", owner, low=1, closed="left",
                 integer=True)
    check_number(workers, "workers", owner, low=1, closed="left", integer=True, allow_none=True)
    check_number(partition_s, "partition_s", owner, low=0, allow_none=True)
    check_number(block_s, "block_s", owner, low=0)
    if client is not None and (scheduler is not None or workers is not None):
        raise ParameterError(f"{owner}: give a client, or a scheduler address, or a number of "
                             "local workers; not more than one of them")
    if scheduler is not None and workers is not None:
        raise ParameterError("--workers sizes the local cluster; with --scheduler the cluster "
                             "is the one already running (start more 'dask worker's there)")
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise ParameterError(_NEEDS_EXTRA) from None
    from ..data.sources import expand_sources

    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    items = expand_sources([os.fspath(s) for s in sources])
    if not items:
        raise DatasetError(f"{', '.join(map(str, sources[:3]))}: no audio files found (folders "
                           "are searched recursively; a CSV list needs rows)")
    seen = set()
    items = [s for s in items if not (input_key(*s) in seen or seen.add(input_key(*s)))]
    spec, ref, data = _model_spec(command, model, windows=windows, false_alarms=false_alarms,
                                  unknown=unknown, block_s=block_s, sources=items)
    result = BatchResult(out=os.fspath(out), inputs=len(items))
    with open_job(out, spec, restart=restart) as job:
        inputs = scan_inputs(items, previous=read_inputs(out))
        job.write_inputs(inputs)
        done, changed, gone, parts = reconcile(out, inputs)
        result.changed = changed
        if changed:
            _say(quiet, f"earmark: {len(changed)} file(s) changed since they were processed "
                        "(size or content): their rows were removed and they are done again")
        if gone:
            _say(quiet, f"earmark: {len(gone)} committed input(s) are no longer among the "
                        "sources; their rows stay in the results")
        keys = [input_key(r.path, r.start_s, r.end_s) for r in inputs.itertuples(index=False)]
        pending_mask = [k not in done for k in keys]
        pending = inputs[pending_mask].reset_index(drop=True)
        result.done_before = len(inputs) - len(pending)
        run_record = {"id": uuid.uuid4().hex[:12], "started": _now(), "state": "running",
                      "start_time": time.time(), "inputs": len(inputs),
                      "done_before": result.done_before, "pending": len(pending),
                      "scheduler": scheduler, "workers": workers,
                      "threads_per_worker": threads_per_worker}
        job.manifest["runs"].append(run_record)
        job.manifest["sources"] = [os.fspath(s) for s in sources]
        job.write_manifest()
        if not len(pending):
            write_failed(out, [])
            _finish(job, run_record, "finished")
            _say(quiet, f"earmark: nothing to do: all {len(inputs)} inputs of {out} are done")
            return result
        _say(quiet, f"earmark: {len(inputs)} inputs, {result.done_before} done before, "
                    f"{len(pending)} to do ({pending['duration_s'].sum() / 3600:.2f} h of "
                    "audio)")
        try:
            _run(job, spec, ref, data, pending, parts, result, run_record,
                 scheduler=scheduler, workers=workers, threads_per_worker=threads_per_worker,
                 partition_s=partition_s, retries=retries, progress=progress, quiet=quiet,
                 client=client)
        except KeyboardInterrupt:
            result.interrupted = True
        except BaseException:
            _finish(job, run_record, "stopped by an error", result)
            raise
        finally:
            # what workers wrote and the driver did not commit (an interrupted run, failed
            # attempts): never read, and the next run would remove it anyway
            clean_staging(job.out)
        state = "interrupted" if result.interrupted else "finished"
        _finish(job, run_record, state, result)
    return result


def _finish(job, record, state, result=None):
    record["state"] = state
    record["finished"] = _now()
    if result is not None:
        record.update(processed=result.processed, failed=result.failed, rows=result.rows,
                      audio_s=round(result.audio_s, 3), elapsed_s=round(result.elapsed_s, 3))
    job.write_manifest()


def _run(job, spec, ref, data, pending, parts, result, record, *, scheduler, workers,
         threads_per_worker, partition_s, retries, progress, quiet, client):
    from distributed import as_completed
    from tqdm.auto import tqdm

    from .worker import ModelPlugin, run_partition

    n_workers = workers or os.cpu_count() or 1
    client_given = client is not None
    with _client(client=client, scheduler=scheduler,
                 workers=n_workers if scheduler is None else None,
                 threads_per_worker=threads_per_worker, retries=retries, quiet=quiet) as client:
        _check_workers(client)
        info = client.scheduler_info()
        threads = sum(w.get("nthreads", 1) for w in info.get("workers", {}).values()) or \
            n_workers * threads_per_worker
        record["threads"] = threads
        result.dashboard = _dashboard(client, info, local=scheduler is None and
                                      not client_given)
        if result.dashboard:
            _say(quiet, f"earmark: Dask dashboard: {result.dashboard}")
        total_s = float(pending["duration_s"].clip(lower=1.0).sum())
        size = partition_s or auto_partition_s(total_s, threads)
        first = max(parts, default=-1) + 1
        plan = plan_partitions(pending, partition_s=size, first_index=first)
        fingerprints = {input_key(r.path, r.start_s, r.end_s):
                        [r.path, _f(r.start_s), _f(r.end_s), int(r.size), int(r.mtime_ns),
                         r.hash, float(r.duration_s)]
                        for r in pending.itertuples(index=False)}
        _say(quiet, f"earmark: {len(plan)} partitions of ~{size / 60:.1f} min of audio on "
                    f"{threads} worker thread(s)" + (f" at {scheduler}" if scheduler else ""))
        if data is not None:
            client.register_plugin(ModelPlugin(ref["key"], data))
        settings = dict(spec.settings)
        futures, by_key = [], {}
        started = time.time()
        record["submit_time"] = started
        job.write_manifest()
        for p in plan:
            payload = {"index": p.index, "items": p.items,
                       "inputs": [fingerprints[k] for k in p.items]}
            fut = client.submit(run_partition, payload, command=spec.command, model_ref=ref,
                                settings=settings, staging=job.staging,
                                job_id=job.manifest["id"], retries=retries, pure=False,
                                key=f"earmark-{spec.command}-{p.index:05d}-{uuid.uuid4().hex[:8]}")
            futures.append(fut)
            by_key[fut.key] = p
        failures = []
        bar = tqdm(total=round(total_s / 3600, 4), unit="h", desc=f"batch {spec.command}",
                   disable=not progress or quiet, bar_format="{l_bar}{bar}| {n:.2f}/{total:.2f}"
                   " h audio [{elapsed}<{remaining}{postfix}]")
        try:
            for fut in as_completed(futures):
                p = by_key[fut.key]
                try:
                    done = fut.result()
                except Exception as exc:              # noqa: BLE001 - the partition failed
                    failures.append({"part": p.index, "inputs": [list(k) for k in p.items],
                                     "error": f"{type(exc).__name__}: {exc}"})
                    write_failed(job.out, failures)
                    result.failed += len(p.items)
                    _say(quiet, f"\nearmark: partition {p.index} failed after {retries} "
                                f"retries ({type(exc).__name__}: {str(exc)[:200]}); its "
                                f"{len(p.items)} inputs are left to the next run")
                    continue
                commit_part(job.out, done["staging"], done["index"])
                fut.release()                         # its result is no longer needed there
                result.processed += done["inputs"]
                result.rows += done["rows"]
                result.errors += done["errors"]
                result.audio_s += done["audio_s"]
                result.elapsed_s = time.time() - started
                bar.update(done["audio_s"] / 3600)
                bar.set_postfix_str(f"{result.audio_hours_per_hour:.0f} audio-h/h, "
                                    f"{result.done_before + result.processed}/{result.inputs} "
                                    "inputs")
        except KeyboardInterrupt:
            client.cancel(futures)
            raise
        finally:
            bar.close()
            result.elapsed_s = time.time() - started
            result.failures = failures
        write_failed(job.out, failures)


def _check_workers(client):
    """Every worker runs this earmark version (another would load models and compute rows
    differently): a clear error naming one that does not, before any task."""
    from .. import __version__
    from .worker import earmark_version

    try:
        versions = client.run(earmark_version)
    except ImportError as exc:
        raise ParameterError(f"the Dask workers cannot import earmark ({exc}); install the "
                             f"same earmark ({__version__}) where they run") from None
    if not versions:
        raise ParameterError("the Dask cluster has no workers; start some ('dask worker "
                             "tcp://SCHEDULER:8786') and run again")
    other = {w: v for w, v in versions.items() if v != __version__}
    if other:
        w, v = next(iter(other.items()))
        raise ParameterError(f"Dask worker {w} runs earmark {v}, this is earmark "
                             f"{__version__}; install the same version on every worker")


def _f(v):
    return None if v is None or v != v else float(v)


def _dashboard(client, info, *, local):
    """The dashboard's address when the scheduler serves one, else None. It needs bokeh: a
    local cluster has it when this Python has it; a remote scheduler is taken at its word."""
    if "dashboard" not in info.get("services", {}):
        return None
    if local:
        try:
            import bokeh  # noqa: F401
        except ImportError:
            return None
    try:
        return client.dashboard_link
    except Exception:                                         # noqa: BLE001 - only a link
        return None
