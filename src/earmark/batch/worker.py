"""What runs on a Dask worker: the model, loaded once per worker process, and one partition.

The model reaches the workers as the bytes of its model file (a :class:`ModelPlugin` registered
once per job; a worker that joins or restarts later gets it too) and is read with
:func:`earmark.load` from a copy in the worker's local folder: never a pickled estimator, so a
worker runs exactly what ``earmark predict`` would load. Without the plugin (a task run by hand)
the model is read from its path, which must then hold the same file (its SHA-256 is checked).
Embedders are made by name on each worker (pretrained ones must be installed there).

Torch runs one thread per worker thread: the cluster's processes and threads are the
parallelism, and torch's own threads on top would oversubscribe the cores.
"""

import os
import socket
import threading
import time
import uuid

from distributed import WorkerPlugin

from ..errors import ModelFileError
from .job import META_KEY
from .tables import detect_rows, embed_rows, predict_rows, to_arrow

__all__ = ["ModelPlugin", "get_model", "run_partition", "earmark_version"]

_LOCK = threading.Lock()
#: model key -> loaded estimator or embedder (one per worker process)
_MODELS = {}
#: model key -> model file bytes, put here by ModelPlugin.setup
_BYTES = {}
_THREADS_SET = False


def _one_torch_thread():
    global _THREADS_SET
    if not _THREADS_SET:
        import torch
        torch.set_num_threads(1)
        _THREADS_SET = True


class ModelPlugin(WorkerPlugin):
    """Hands the model file's bytes to every worker (those started later too).

    ``setup`` only keeps the bytes: the model is loaded by the first task that needs it, on a
    worker thread, so the worker's event loop (its heartbeats) never waits for it.
    """

    def __init__(self, key, data):
        self.key = key
        self.data = data
        self.name = f"earmark-model-{key[:16]}"

    def setup(self, worker):
        _BYTES[self.key] = self.data


def earmark_version():
    """The earmark version a worker runs (run on every worker before a job starts)."""
    from .. import __version__
    return __version__


def _load_estimator(ref):
    from .. import load
    from .job import file_sha256

    data = _BYTES.get(ref["key"])
    if data is not None:
        import tempfile
        folder = tempfile.mkdtemp(prefix="earmark-model-")
        path = os.path.join(folder, os.path.basename(ref["path"]) or "model.earmark")
        with open(path, "wb") as f:
            f.write(data)
    else:
        path = ref["path"]
        try:
            same = file_sha256(path) == ref["key"]
        except OSError as exc:
            raise ModelFileError(f"{path}: cannot read the model file on worker "
                                 f"{socket.gethostname()} ({exc.strerror or exc})") from None
        if not same:
            raise ModelFileError(f"{path}: the model file on worker {socket.gethostname()} "
                                 "is not the one the job was started with")
    try:
        est = load(path)
    finally:
        if data is not None:        # read whole by load: the copy is not needed after it
            import shutil
            shutil.rmtree(os.path.dirname(path), ignore_errors=True)
    if ref.get("false_alarms") is not None:
        est.set_false_alarms(ref["false_alarms"])
    if ref.get("unknown") is not None:       # as earmark predict --unknown: nothing refitted
        est.set_unknown(ref["unknown"])
    return est


def get_model(ref):
    """The estimator (or embedder) ``ref`` names, loaded once per worker process.

    ``ref``: ``{"key", "path", "false_alarms", "unknown"}`` for a model file (key: its SHA-256), or
    ``{"key", "embedder"}`` for an embedder by name.
    """
    with _LOCK:
        model = _MODELS.get(ref["key"])
        if model is None:
            _one_torch_thread()
            if "embedder" in ref:
                from ..models.embeddings import get_embedder
                model = get_embedder(ref["embedder"], num_threads=1)
            else:
                model = _load_estimator(ref)
            _MODELS[ref["key"]] = model
        return model


def run_partition(part, *, command, model_ref, settings, staging, job_id):
    """Compute one partition and write it to ``staging``; returns what the driver commits.

    Parameters
    ----------
    part : dict
        ``{"index", "items": [(path, start_s, end_s), ...], "inputs": [fingerprint rows]}``.
    command : {'predict', 'detect', 'embed'}
    model_ref : dict
        See :func:`get_model`.
    settings : dict
        The job's settings (windows, regions, block_s).
    staging : str
        The job's staging folder (shared with the driver).
    job_id : str

    Returns
    -------
    dict
        index, staging path, rows, errors, audio_s, elapsed_s, worker.
    """
    import pyarrow.parquet as pq

    from ..data.sources import Source

    started = time.time()
    delay = float(os.environ.get("EARMARK_BATCH_TEST_DELAY_S", "0") or 0)
    if delay:                     # tests: keep a partition running long enough to kill its worker
        time.sleep(delay)
    model = get_model(model_ref)
    items = [Source(*i) for i in part["items"]]
    if command == "predict":
        table = predict_rows(model, items, windows=settings.get("windows", False),
                             regions=settings.get("regions", False))
    elif command == "detect":
        table = detect_rows(model, items, block_s=settings.get("block_s", 60.0))
    else:
        table = embed_rows(model, items)
    elapsed = time.time() - started
    errors = int(table["error"].notna().sum())
    audio_s = float(sum(i[6] for i in part["inputs"]))
    meta = {"job": job_id, "part": part["index"], "command": command,
            "inputs": part["inputs"], "rows": len(table), "errors": errors,
            "audio_s": audio_s, "elapsed_s": round(elapsed, 3),
            "worker": f"{socket.gethostname()}:{os.getpid()}",
            "finished": time.time()}
    import json
    arrow = to_arrow(table, {META_KEY: json.dumps(meta).encode()})
    os.makedirs(staging, exist_ok=True)
    path = os.path.join(staging, f"part-{part['index']:05d}.{uuid.uuid4().hex[:12]}.parquet")
    pq.write_table(arrow, path)
    return {"index": part["index"], "staging": path, "rows": len(table), "errors": errors,
            "audio_s": audio_s, "elapsed_s": elapsed, "worker": meta["worker"],
            "inputs": len(part["inputs"])}
