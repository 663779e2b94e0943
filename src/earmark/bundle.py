"""The model file: one file holding weights, preprocessing config, labels, metadata and versions.

Format (``FORMAT_VERSION`` 1): a ZIP archive with

- ``earmark.json``: format name and version, labels, the :class:`~earmark.FeatureConfig`, the
  model family's config, training metadata (settings, history, augmentation, data summary),
  versions of earmark and its libraries, and an index of the arrays;
- ``arrays/NNNN.npy``: every weight or head array, in NumPy's ``.npy`` format.

Loading reads JSON and ``.npy`` with ``allow_pickle=False``: it never executes pickled code.
A file written by another format version loads if this version knows how to read it, or fails
with a message naming both versions.

A model file is something people download and share, so :func:`read_bundle` treats it as
untrusted. Before anything is decompressed it checks, from the archive's directory and each
``.npy`` header alone:

- ``earmark.json`` is at most :data:`MAX_JSON_BYTES` uncompressed, and a JSON object;
- at most :data:`MAX_ARRAYS` arrays, each a plain numeric array (bool, int, uint, float; no
  objects, strings or records) whose header (shape x dtype) agrees with the size of its member
  and with the index in ``earmark.json``;
- the arrays together hold at most :data:`MAX_ARRAY_BYTES` (2 GiB) uncompressed, and at most
  :data:`FREE_EXPANSION_BYTES` (256 MiB) plus :data:`MAX_COMPRESSION_RATIO` (100) times their
  compressed size: a 3 MB file cannot unpack to 2 GiB (deflate packs zeros 1000:1, trained
  weights less than 2:1, a mel filter bank about 15:1);
- whatever the caller's ``expect`` adds (:func:`earmark.load` checks that the arrays are
  exactly those the model's kind and config declare, with the shapes they imply).

Arrays are then decompressed one at a time straight into their final buffer (no second copy),
and a float array holding NaN or infinity is refused: :func:`write_bundle` never writes one.
Every problem is a :class:`~earmark.errors.ModelFileError` naming the file.
"""

import io
import json
import math
import os
import platform
import struct
import zipfile
import zlib
from collections import namedtuple
from datetime import datetime, timezone

import numpy as np

from ._io import atomic_path, json_default
from .errors import ModelFileError

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "MAX_ARRAY_BYTES", "MAX_JSON_BYTES", "MAX_ARRAYS",
           "FREE_EXPANSION_BYTES", "MAX_COMPRESSION_RATIO", "ArraySpec", "write_bundle",
           "read_bundle", "library_versions"]

FORMAT_NAME = "earmark-model"
FORMAT_VERSION = 1
#: Older format versions this code can still read (none yet: version 1 is the first).
READABLE_VERSIONS = (1,)

#: Most bytes the arrays of a model file may hold uncompressed, all together (EfficientNet-Lite0
#: is 19 MB; a 200-tree forest on 100 000 windows about 1 GB).
MAX_ARRAY_BYTES = 2 * 1024 ** 3
#: Arrays may expand to this many bytes whatever their compressed size...
FREE_EXPANSION_BYTES = 256 * 1024 ** 2
#: ...plus this many times their compressed size (the decompression-bomb guard).
MAX_COMPRESSION_RATIO = 100
#: Largest ``earmark.json`` (uncompressed) read.
MAX_JSON_BYTES = 16 * 1024 ** 2
#: Most arrays (and archive members) a model file may hold.
MAX_ARRAYS = 100_000

#: What one array of a model file is, read from the archive's directory and its ``.npy`` header.
#: ``nbytes`` is its uncompressed data size; ``offset`` where the data start in its member.
ArraySpec = namedtuple("ArraySpec", "name member shape dtype fortran_order nbytes offset "
                                    "compressed_bytes")

# what zipfile, zlib and the .npy reader raise for damaged data
_DAMAGED = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, ValueError,
            NotImplementedError, RuntimeError, struct.error, OverflowError, KeyError)
# decompressed at a time into an array's buffer
_CHUNK = 16 * 1024 ** 2


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


def _gib(n):
    return f"{n / 1024 ** 3:.2f} GiB" if n >= 1024 ** 3 else f"{n / 1024 ** 2:.1f} MiB"


def _check_array_to_write(name, arr):
    if arr.dtype.kind not in "biuf" or arr.dtype.fields is not None:
        raise ModelFileError(f"array {name!r} has dtype {arr.dtype}; only numeric arrays (bool, "
                             "int, float) can be saved")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ModelFileError(
            f"array {name!r} holds NaN or infinite values; a model with non-finite weights is "
            "not saved (training diverged: lower the learning rate, and check the audio with "
            "`earmark inspect`)")


def write_bundle(path, *, meta, arrays):
    """Write a model file atomically.

    Parameters
    ----------
    path : str or path-like
    meta : dict
        JSON-able description (labels, features, model config, training...).
    arrays : dict of str -> np.ndarray
        Named numeric arrays.

    Raises
    ------
    ModelFileError
        An array that is not numeric or holds NaN or infinity, or a model larger than
        :func:`read_bundle` reads; nothing is written (an existing file stays as it was).

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "m.earmark")
    >>> _ = write_bundle(path, meta={"labels": ["a"]}, arrays={"w": np.ones(3, np.float32)})
    >>> meta, arrays = read_bundle(path)
    >>> meta["labels"], arrays["w"].tolist()
    (['a'], [1.0, 1.0, 1.0])
    """
    path = os.fspath(path)
    # not ascontiguousarray: it turns 0-d arrays into 1-d
    arrays = {name: np.asarray(arr) for name, arr in sorted(arrays.items())}
    for name, arr in arrays.items():      # refuse before anything is written
        _check_array_to_write(name, arr)
    total = sum(arr.nbytes for arr in arrays.values())
    if total > MAX_ARRAY_BYTES or len(arrays) > MAX_ARRAYS:
        raise ModelFileError(f"the model's {len(arrays)} arrays hold {_gib(total)}; a model file "
                             f"holds at most {MAX_ARRAYS} arrays and {_gib(MAX_ARRAY_BYTES)}")
    index = {}
    doc = dict(meta)
    doc.update({"format": FORMAT_NAME, "format_version": FORMAT_VERSION,
                "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "versions": library_versions()})
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for i, (name, arr) in enumerate(arrays.items()):
                member = f"arrays/{i:04d}.npy"
                buf = io.BytesIO()
                np.save(buf, arr, allow_pickle=False)
                z.writestr(member, buf.getvalue())
                index[name] = {"file": member, "dtype": str(arr.dtype), "shape": list(arr.shape)}
            doc["arrays"] = index
            text = json.dumps(doc, indent=1, default=json_default).encode()
            if len(text) > MAX_JSON_BYTES:
                raise ModelFileError(f"the model's description (earmark.json) is "
                                     f"{_gib(len(text))}; a model file holds at most "
                                     f"{_gib(MAX_JSON_BYTES)}")
            z.writestr("earmark.json", text)
            infos = [i for i in z.infolist() if i.filename.startswith("arrays/")]
        _check_expansion(path, infos)        # what is written must read back
    return path


def _check_expansion(path, infos):
    unpacked = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos)
    if unpacked > MAX_ARRAY_BYTES:
        raise ModelFileError(f"{path}: the arrays would take {_gib(unpacked)} uncompressed; a "
                             f"model file may hold at most {_gib(MAX_ARRAY_BYTES)}")
    if unpacked > FREE_EXPANSION_BYTES + MAX_COMPRESSION_RATIO * packed:
        raise ModelFileError(
            f"{path}: {_gib(packed)} of compressed arrays would unpack to {_gib(unpacked)} "
            f"({unpacked / max(packed, 1):.0f}:1); beyond {_gib(FREE_EXPANSION_BYTES)} a model "
            f"file may expand at most {MAX_COMPRESSION_RATIO}:1 (a decompression bomb?)")


def _member_count(path):
    # zipfile builds an object per member as it opens an archive: count them from the end record
    # first, so an archive of millions of members is refused before that
    try:
        with open(path, "rb") as f:
            end = zipfile._EndRecData(f)
        return None if end is None else int(end[zipfile._ECD_ENTRIES_TOTAL])
    except (AttributeError, IndexError, TypeError):   # zipfile internals moved: zipfile decides
        return None


def read_bundle(path, *, expect=None):
    """Read a model file: returns ``(meta dict, arrays dict)``.

    Parameters
    ----------
    path : str or path-like
    expect : callable or None
        ``expect(meta, specs)`` with ``specs`` a dict name -> :class:`ArraySpec`, called after
        ``earmark.json`` and every ``.npy`` header are read and before any array is
        decompressed; it raises :class:`ModelFileError` for a file it refuses
        (:func:`earmark.load` checks the arrays against the model's kind and config there).

    Raises
    ------
    ModelFileError
        Not a model file, damaged, beyond the size limits (see the module docstring), a float
        array with NaN or infinity, or a format version this earmark cannot read (the message
        names both versions). The message names the file.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ModelFileError(f"{path}: model file not found")
    if os.path.isdir(path):
        raise ModelFileError(f"{path}: is a folder, not a model file")
    try:
        n_members = _member_count(path)
        if n_members is not None and n_members > MAX_ARRAYS + 1:
            raise ModelFileError(f"{path}: not an earmark model file ({n_members} archive "
                                 f"members; a model file has at most {MAX_ARRAYS + 1})")
        z = zipfile.ZipFile(path)
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read the model file ({exc.strerror or exc})") \
            from None
    except _DAMAGED as exc:
        raise ModelFileError(f"{path}: not an earmark model file ({exc})") from None
    with z:
        _check_directory(z, path)
        meta = _read_meta(z, path)
        specs = _array_specs(z, meta, path)
        if expect is not None:
            expect(meta, specs)
        arrays = {name: _read_array(z, spec, path) for name, spec in specs.items()}
    return meta, arrays


def _check_directory(z, path):
    """Refuse members whose directory entry claims more compressed bytes than the whole file
    holds: zipfile would try to read (and allocate) that much at once."""
    try:
        size = os.path.getsize(path)
    except (OSError, TypeError):
        return
    for info in z.infolist():
        if info.compress_size > size or info.header_offset > size:
            raise ModelFileError(
                f"{path}: damaged model file: member {info.filename!r} claims "
                f"{info.compress_size} compressed bytes at offset {info.header_offset} in a file "
                f"of {size}")


def _read_meta(z, path):
    try:
        info = z.getinfo("earmark.json")
    except KeyError:
        raise ModelFileError(f"{path}: not an earmark model file (no earmark.json)") from None
    if info.file_size > MAX_JSON_BYTES:
        raise ModelFileError(f"{path}: earmark.json is {_gib(info.file_size)} uncompressed; a "
                             f"model file's is at most {_gib(MAX_JSON_BYTES)}")
    try:
        meta = json.loads(z.read(info))
    except (*_DAMAGED, OSError, RecursionError) as exc:
        raise ModelFileError(f"{path}: damaged model file: earmark.json "
                             f"({type(exc).__name__}: {exc})") from None
    if not isinstance(meta, dict):
        raise ModelFileError(f"{path}: not an earmark model file (earmark.json holds a "
                             f"{type(meta).__name__}, not an object)")
    if meta.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{path}: not an earmark model file (format "
                             f"{meta.get('format')!r})")
    version = meta.get("format_version")
    if isinstance(version, bool) or version not in READABLE_VERSIONS:
        made = meta.get("versions")
        made = made.get("earmark", "unknown") if isinstance(made, dict) else "unknown"
        newer = isinstance(version, int) and not isinstance(version, bool) and \
            version > FORMAT_VERSION
        hint = "upgrade earmark" if newer else \
            "re-train or convert it with the earmark version that wrote it"
        also = (" (and " + ", ".join(map(str, READABLE_VERSIONS[:-1])) + ")"
                if len(READABLE_VERSIONS) > 1 else "")
        raise ModelFileError(
            f"{path}: model file format version {version} (written by earmark {made}); this "
            f"earmark reads format version {FORMAT_VERSION}{also}: {hint}")
    return meta


def _damaged(path, name, problem):
    return ModelFileError(f"{path}: damaged model file: array {name!r} ({problem})")


def _array_specs(z, meta, path):
    """Every array's :class:`ArraySpec`, from the directory and the .npy headers only."""
    index = meta.get("arrays", {})
    if not isinstance(index, dict):
        raise ModelFileError(f"{path}: damaged model file: field 'arrays' must be an object "
                             f"(name -> entry); got a {type(index).__name__}")
    if len(index) > MAX_ARRAYS:
        raise ModelFileError(f"{path}: {len(index)} arrays; a model file holds at most "
                             f"{MAX_ARRAYS}")
    infos = {}
    for name, entry in index.items():
        member = entry.get("file") if isinstance(entry, dict) else None
        if not isinstance(member, str):
            raise _damaged(path, name, "its entry in earmark.json has no 'file'")
        try:
            infos[name] = z.getinfo(member)
        except KeyError:
            raise _damaged(path, name, f"no member {member!r} in the archive") from None
    # the budget, from the directory alone
    _check_expansion(path, infos.values())
    specs = {}
    for name, info in infos.items():
        specs[name] = _read_header(z, name, info, index[name], path)
    return specs


def _read_header(z, name, info, entry, path):
    try:
        with z.open(info) as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ValueError(f".npy format version {version} is not one earmark writes")
            offset = f.tell()
    except Exception as exc:  # numpy's header parser raises what its tokenizer raises, too
        raise _damaged(path, name, f"{type(exc).__name__}: {exc}") from None
    if dtype.hasobject:
        raise _damaged(path, name, "it holds Python objects (pickled data), which earmark never "
                                   "loads")
    if dtype.kind not in "biuf" or dtype.fields is not None or dtype.subdtype is not None:
        raise _damaged(path, name, f"dtype {dtype} is not a plain numeric type")
    if any(not isinstance(n, int) or n < 0 for n in shape):
        raise _damaged(path, name, f"shape {shape} is not a shape")
    nbytes = math.prod(shape) * dtype.itemsize
    if offset + nbytes != info.file_size:
        raise _damaged(path, name, f"its header says {shape} x {dtype} = {nbytes} bytes, but "
                                   f"the archive holds {info.file_size - offset}")
    if "shape" in entry and entry["shape"] != list(shape):
        raise _damaged(path, name, f"earmark.json says shape {entry['shape']!r}, its header "
                                   f"{list(shape)}")
    if "dtype" in entry:
        try:
            same = np.dtype(entry["dtype"]).newbyteorder("=") == dtype.newbyteorder("=")
        except (TypeError, ValueError, SyntaxError):
            same = False
        if not same:
            raise _damaged(path, name, f"earmark.json says dtype {entry['dtype']!r}, its header "
                                       f"{dtype}")
    return ArraySpec(name, info, tuple(shape), dtype, bool(fortran), nbytes, offset,
                     info.compress_size)


def _read_array(z, spec, path):
    raw = np.empty(spec.nbytes, np.uint8)
    view = memoryview(raw)
    try:
        with z.open(spec.member) as f:
            f.read(spec.offset)
            done = 0
            while done < spec.nbytes:
                n = f.readinto(view[done:done + _CHUNK])
                if not n:
                    raise EOFError("the data end early")
                done += n
            if f.read(1):      # reaching the end also checks the CRC
                raise ValueError("more data than its header says")
    except (*_DAMAGED, OSError) as exc:
        raise _damaged(path, spec.name, f"{type(exc).__name__}: {exc}") from None
    arr = raw.view(spec.dtype).reshape(spec.shape, order="F" if spec.fortran_order else "C")
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ModelFileError(f"{path}: array {spec.name!r} holds NaN or infinite values (a "
                             "damaged file, or a model whose training diverged)")
    return arr
