"""The model file: one file holding weights, preprocessing config, labels, metadata and versions.

Format (``FORMAT_VERSION`` 1): a ZIP archive with

- ``earmark.json``: format name and version, labels, the :class:`~earmark.FeatureConfig`, the
  model family's config, training metadata (settings, history, augmentation, data summary),
  versions of earmark and its libraries, and an index of the arrays;
- ``arrays/NNNN.npy``: every weight or head array, in NumPy's ``.npy`` format.

Loading reads JSON and ``.npy`` with ``allow_pickle=False``: it never executes pickled code.
A file written by another format version loads if this version knows how to read it, or fails
with a message naming both versions.
"""

import io
import json
import os
import platform
import zipfile
from datetime import datetime, timezone

import numpy as np

from ._io import atomic_path, json_default
from .errors import ModelFileError

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "write_bundle", "read_bundle", "library_versions"]

FORMAT_NAME = "earmark-model"
FORMAT_VERSION = 1
#: Older format versions this code can still read (none yet: version 1 is the first).
READABLE_VERSIONS = (1,)


def library_versions():
    """Versions of earmark and the libraries that shape a model's numbers."""
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for name in ("earmark", "torch", "numpy", "scipy", "scikit-learn", "librosa", "soundfile",
                 "soxr"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = None
    return out


def write_bundle(path, *, meta, arrays):
    """Write a model file atomically.

    Parameters
    ----------
    path : str or path-like
    meta : dict
        JSON-able description (labels, features, model config, training...).
    arrays : dict of str -> np.ndarray
        Named numeric arrays (object arrays are refused).
    """
    path = os.fspath(path)
    index = {}
    doc = dict(meta)
    doc.update({"format": FORMAT_NAME, "format_version": FORMAT_VERSION,
                "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "versions": library_versions()})
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for i, (name, arr) in enumerate(sorted(arrays.items())):
                arr = np.asarray(arr)   # not ascontiguousarray: it turns 0-d arrays into 1-d
                if arr.dtype == object:
                    raise ModelFileError(f"array {name!r} has dtype object; only numeric arrays "
                                         "can be saved")
                member = f"arrays/{i:04d}.npy"
                buf = io.BytesIO()
                np.save(buf, arr, allow_pickle=False)
                z.writestr(member, buf.getvalue())
                index[name] = {"file": member, "dtype": str(arr.dtype), "shape": list(arr.shape)}
            doc["arrays"] = index
            z.writestr("earmark.json", json.dumps(doc, indent=1, default=json_default))
    return path


def read_bundle(path):
    """Read a model file: returns ``(meta dict, arrays dict)``.

    Raises
    ------
    ModelFileError
        Not a model file, damaged, or a format version this earmark cannot read (the message
        names both versions).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ModelFileError(f"{path}: model file not found")
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelFileError(f"{path}: not an earmark model file ({exc})") from None
    with z:
        try:
            meta = json.loads(z.read("earmark.json"))
        except KeyError:
            raise ModelFileError(f"{path}: not an earmark model file (no earmark.json)") from None
        except (ValueError, zipfile.BadZipFile) as exc:
            raise ModelFileError(f"{path}: damaged model file ({exc})") from None
        if meta.get("format") != FORMAT_NAME:
            raise ModelFileError(f"{path}: not an earmark model file (format "
                                 f"{meta.get('format')!r})")
        version = meta.get("format_version")
        if version not in READABLE_VERSIONS:
            made = (meta.get("versions") or {}).get("earmark", "unknown")
            hint = ("upgrade earmark" if isinstance(version, int) and version > FORMAT_VERSION
                    else "re-train or convert it with the earmark version that wrote it")
            raise ModelFileError(
                f"{path}: model file format version {version} (written by earmark {made}); this "
                f"earmark reads format version {FORMAT_VERSION}"
                f"{' (and ' + ', '.join(map(str, READABLE_VERSIONS[:-1])) + ')' if len(READABLE_VERSIONS) > 1 else ''}"
                f": {hint}")
        arrays = {}
        for name, entry in meta.get("arrays", {}).items():
            try:
                with z.open(entry["file"]) as f:
                    arrays[name] = np.load(io.BytesIO(f.read()), allow_pickle=False)
            except (KeyError, ValueError, zipfile.BadZipFile) as exc:
                raise ModelFileError(f"{path}: damaged model file: array {name!r} ({exc})") \
                    from None
    return meta, arrays
