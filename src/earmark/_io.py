"""Atomic output: a file is either written whole or not at all, and what was there survives."""

import contextlib
import json
import os
import tempfile

import numpy as np

__all__ = ["atomic_path", "write_bytes_atomic", "json_default", "write_json"]


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one step.

    On any error (or Ctrl-C) the temporary file is removed and an existing ``path`` is untouched.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".earmark-", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())     # mkstemp makes 0600; outputs get the usual mode
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes_atomic(path, data):
    """Write ``data`` (bytes) to ``path`` atomically; returns ``path``."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
    return os.fspath(path)


def json_default(o):
    """``json.dumps(default=...)`` for NumPy scalars and arrays."""
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_json(obj, path):
    """Write ``obj`` as indented JSON, atomically (NumPy values become plain JSON)."""
    return write_bytes_atomic(path, json.dumps(obj, indent=1, default=json_default).encode())
