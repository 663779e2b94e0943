"""Fuzzing the model-file loader and the audio loader with hypothesis (seeded: derandomize=True,
so every run tries the same cases).

- Model files: valid small files (a one-epoch CNN classifier, a forest head on the 'classic'
  embedding, a tagger, an ensemble; deflated and stored) mutated byte by byte, in their JSON
  (values, types, deleted and added keys), in their ``.npy`` headers (shapes up to 2**60,
  other dtypes, data that does or does not match) and in the zip directory (sizes, methods,
  flags), then re-zipped: ``earmark.load`` raises nothing but EarmarkError, and the memory it
  allocates (traced by tracemalloc: NumPy's buffers and Python's objects) stays under
  ``LOAD_MEMORY_BOUND``.
- Audio: valid WAV (16-bit, float, stereo) and FLAC files with mutated headers, truncated, or
  replaced by random bytes: every audio reader raises nothing but AudioError, within
  ``AUDIO_MEMORY_BOUND``.
- While a loader runs no file is written anywhere: an audit hook records every file opened for
  writing, renamed, removed or made (Python-level; libsndfile opens read-only).
"""

import io
import json
import os
import struct
import sys
import tracemalloc
import zipfile

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import earmark
from earmark import audio
from earmark.errors import AudioError, EarmarkError

from _signals import FAST, write_dataset
from test_hostile_model_files import edit_model, forest_model_file, members, write_members

#: Most memory one ``earmark.load`` of a mutated file may allocate. The valid files hold under
#: 1 MB of arrays; the loader's own budget would allow 256 MiB plus 100 times the file's size
#: for arrays the config declares, which no mutation here reaches.
LOAD_MEMORY_BOUND = 64 * 2 ** 20
#: Most memory one audio reader may allocate for these files (under 100 kB each).
AUDIO_MEMORY_BOUND = 32 * 2 ** 20

FUZZ = dict(derandomize=True, deadline=None, database=None, print_blob=True,
            suppress_health_check=list(HealthCheck))


# -- no writes while a loader runs ----------------------------------------------------------------

_WRITES = []
_WATCHING = [False]
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _audit(event, args):
    if not _WATCHING[0]:
        return
    if event == "open":
        path, mode, flags = args
        if (isinstance(mode, str) and set(mode) & set("wax+")) or \
                (mode is None and isinstance(flags, int) and flags & _WRITE_FLAGS):
            _WRITES.append((event, path))
    elif event in ("os.rename", "os.remove", "os.mkdir", "os.rmdir", "os.truncate",
                   "shutil.copyfile", "shutil.move"):
        _WRITES.append((event, args[0]))


sys.addaudithook(_audit)       # hooks cannot be removed: it records only while _WATCHING


def _run(fn, bound):
    """Run ``fn()``; return the exception it raised (or None) after checking that it wrote
    nothing and allocated less than ``bound``."""
    tracemalloc.start()
    _WATCHING[0] = True
    raised = None
    try:
        fn()
    except Exception as exc:       # judged by the caller
        raised = exc
    finally:
        _WATCHING[0] = False
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    if _WRITES:
        written, _WRITES[:] = list(_WRITES), []
        raise AssertionError(f"the loader wrote: {written}")
    assert peak < bound, f"the loader allocated {peak / 2 ** 20:.0f} MiB"
    return raised


def test_the_checks_can_fail(tmp_path):
    # what the fuzzers rely on sees a write while watching, and an allocation over the bound
    with pytest.raises(AssertionError, match="the loader wrote: .*written.txt"):
        _run(lambda: (tmp_path / "written.txt").write_text("x"), 2 ** 20)
    with pytest.raises(AssertionError, match="the loader allocated 8 MiB"):
        _run(lambda: np.ones(2 ** 20), 2 ** 20)
    assert _WRITES == []


def check_load(path):
    exc = _run(lambda: earmark.load(path), LOAD_MEMORY_BOUND)
    if exc is not None and not isinstance(exc, EarmarkError):
        raise AssertionError(f"earmark.load raised {type(exc).__name__}: {exc}") from exc


# -- the valid files ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """The module's folder; also one torch thread (loads are small: threads only contend)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield tmp_path_factory.mktemp("fuzz")
    torch.set_num_threads(threads)


class _Files(dict):
    """name -> file bytes, with a short repr (hypothesis prints the arguments of a failure)."""

    def __repr__(self):
        return f"<files {sorted(self)}>"


@pytest.fixture(scope="module")
def model_bases(work):
    """name -> bytes of a valid model file."""
    data = write_dataset(work / "data", per_class=4, groups=2)
    cnn = earmark.SoundClassifier(**dict(FAST, epochs=1)).fit(data)
    paths = {"cnn": cnn.save(work / "cnn.earmark")}
    paths["rf"] = forest_model_file(paths["cnn"], work / "rf.earmark")
    paths["ensemble"] = earmark.EnsembleClassifier.from_fitted(
        [cnn, earmark.load(paths["rf"])]).save(work / "ensemble.earmark")

    def as_tagger(doc):
        doc.update(kind="tagger", task="tagging", aggregation="mean",
                   thresholds=[0.5, 0.5, 0.5], threshold_source="test")
        doc["model"]["activation"] = "sigmoid"

    paths["tagger"] = edit_model(paths["cnn"], work / "tagger.earmark", meta=as_tagger)
    for name in list(paths):           # stored copies: byte edits then hit JSON and headers
        paths[f"{name}-stored"] = write_members(work / f"{name}-stored.earmark",
                                                members(paths[name]),
                                                compression=zipfile.ZIP_STORED)
    for path in paths.values():
        check_load(path)               # each loads as it is, within the bound
    return _Files({name: open(path, "rb").read() for name, path in paths.items()})


@pytest.fixture(scope="module")
def audio_bases(work):
    """name -> bytes of a valid audio file."""
    rng = np.random.default_rng(0)
    y = (0.3 * rng.standard_normal((1600, 2))).astype(np.float32)
    out = {}
    for name, fmt, subtype, channels in (("wav16", "WAV", "PCM_16", 1),
                                         ("wavfloat", "WAV", "FLOAT", 2),
                                         ("flac", "FLAC", "PCM_16", 2)):
        buf = io.BytesIO()
        sf.write(buf, y[:, :channels], 8000, format=fmt, subtype=subtype)
        out[name] = buf.getvalue()
    return _Files(out)


# -- model files: bytes ---------------------------------------------------------------------------

BYTE_OPS = st.lists(st.tuples(st.sampled_from(["flip", "set", "insert", "delete", "cut"]),
                              st.floats(0, 1, exclude_max=True), st.integers(0, 255),
                              st.booleans()),
                    min_size=1, max_size=6)


def mutate_bytes(data, ops):
    data = bytearray(data)
    for op, where, byte, near_end in ops:
        # half the edits fall in the last 4 kB: the zip directory and earmark.json live there
        span = min(len(data), 4096) if near_end else len(data)
        i = len(data) - span + int(where * span) if data else 0
        if op == "flip" and data:
            data[min(i, len(data) - 1)] ^= 1 << (byte % 8)
        elif op == "set" and data:
            data[min(i, len(data) - 1)] = byte
        elif op == "insert":
            data[i:i] = bytes([byte]) * (1 + byte % 4)
        elif op == "delete" and data:
            del data[i:i + 1 + byte % 4]
        elif op == "cut":
            del data[i:]
    return bytes(data)


@settings(max_examples=700, **FUZZ)
@given(base=st.sampled_from(["cnn", "rf", "tagger", "ensemble", "cnn-stored", "rf-stored",
                             "tagger-stored", "ensemble-stored"]), ops=BYTE_OPS)
def test_byte_mutations_of_model_files(model_bases, work, base, ops):
    path = work / "bytes.earmark"
    path.write_bytes(mutate_bytes(model_bases[base], ops))
    check_load(path)


@settings(max_examples=100, **FUZZ)
@given(data=st.binary(max_size=2000), zip_magic=st.booleans())
def test_random_bytes_as_a_model_file(work, data, zip_magic):
    path = work / "random.earmark"
    path.write_bytes((b"PK\x03\x04" if zip_magic else b"") + data)
    check_load(path)


# -- model files: earmark.json --------------------------------------------------------------------

SPECIAL = [None, True, False, 0, -1, 1, 2, 3, 2 ** 31, 2 ** 63, -(2 ** 63), 10 ** 30, 0.5, -0.0,
           1e308, float("nan"), float("inf"), float("-inf"), "", "x", "classic", "sbcnn", "cnn",
           "crnn", "softmax", "sigmoid", "mean", "max", "lse", "neural", "embedding", "logreg",
           "svm", "rf", "mlp", "tagging", "classification", "detection", "arrays/0000.npy",
           "earmark.json", "earmark.head", [], {}, [0, 1], [0, 1, 2], ["high", "low"], [10 ** 12],
           [-1, 3], {"width": 2}, {"format": "earmark.augment"}]
JSON_VALUES = st.recursive(
    st.sampled_from(SPECIAL) | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=6)


def _nodes(value, path=()):
    """Every (path, value) of a JSON tree, the root included."""
    yield path, value
    items = value.items() if isinstance(value, dict) else \
        enumerate(value) if isinstance(value, list) else ()
    for k, v in items:
        yield from _nodes(v, path + (k,))


@st.composite
def json_edits(draw, doc):
    """1 to 3 edits of a JSON object: a top-level key first (so the arrays index does not drown
    the rest), then any node under it; replaced, deleted, given a new key or wrapped."""
    edits = []
    for _ in range(draw(st.integers(1, 3))):
        top = draw(st.sampled_from(sorted(doc)))
        nodes = list(_nodes(doc[top], (top,)))
        path, _ = nodes[draw(st.integers(0, len(nodes) - 1))]
        op = draw(st.sampled_from(["replace", "replace", "delete", "add_key", "wrap"]))
        edits.append((path, op, draw(JSON_VALUES), draw(st.text(max_size=6))))
    return edits


def apply_json_edits(doc, edits):
    for path, op, value, key in edits:
        parent = doc
        try:
            for k in path[:-1]:
                parent = parent[k]
            last = path[-1]
            if op == "replace":
                parent[last] = value
            elif op == "delete":
                del parent[last]
            elif op == "add_key" and isinstance(parent[last], dict):
                parent[last][key] = value
            elif op == "wrap":
                parent[last] = [parent[last]]
        except (KeyError, IndexError, TypeError):
            pass                          # an earlier edit removed the path
    return doc


@pytest.fixture(scope="module")
def model_members(model_bases):
    """name -> the decompressed members of a valid model file (re-zipped stored: quick)."""
    return _Files({name: members(io.BytesIO(data)) for name, data in model_bases.items()
                   if not name.endswith("-stored")})


@settings(max_examples=800, **FUZZ)
@given(base=st.sampled_from(["cnn", "rf", "tagger", "ensemble"]), data=st.data())
def test_json_mutations_of_model_files(model_members, work, base, data):
    mem = dict(model_members[base])
    doc = json.loads(mem["earmark.json"])
    doc = apply_json_edits(doc, data.draw(json_edits(doc)))
    mem["earmark.json"] = json.dumps(doc).encode()
    check_load(write_members(work / "json.earmark", mem, compression=zipfile.ZIP_STORED))


# -- model files: .npy headers -------------------------------------------------------------------

DESCRS = ["<f4", ">f4", "<f8", "<f2", "|b1", "<i8", "<u1", "<i4", "|O", "<U3", "<c8", "|V4",
          [("a", "<f4")], "<M8[s]"]
DIMS = st.sampled_from([0, 1, 2, 3, 24, 64, 768, 2 ** 31, 2 ** 40, 2 ** 60, -1]) | \
    st.integers(0, 4096)


@st.composite
def npy_edits(draw):
    return {"descr": draw(st.sampled_from(DESCRS)),
            "shape": draw(st.none() | st.lists(DIMS, max_size=5).map(tuple)),
            "fortran_order": draw(st.sampled_from([False, True, "yes", 0])),
            "version": draw(st.sampled_from([(1, 0), (1, 0), (2, 0), (3, 0), (9, 9)])),
            "data": draw(st.sampled_from(["match", "match", "keep", "short", "long"])),
            "index": draw(st.sampled_from(["update", "keep", "remove"])),
            "garbage": draw(st.none() | st.sampled_from(
                [b"{'descr': '<f4', 'fortran_order': False, 'shape': (3,), ",
                 b"{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'x': __import__}",
                 b"{'shape': (1e400,)}", b"\xff\xfe" * 10, b"[" * 60,
                 b"{'descr': '<f4', 'fortran_order': False, 'shape': (" + b"1," * 40 + b")}"]))}


def npy_member(original, edit):
    """A .npy member with ``edit``'s header and data of the new size (when small), of the
    original size, or shorter or longer."""
    _, fortran, dtype = _header_of(original)
    shape = edit["shape"]
    try:
        new_dtype = np.dtype(edit["descr"])
    except TypeError:
        new_dtype = dtype
    header = {"descr": np.lib.format.dtype_to_descr(new_dtype), "fortran_order":
              edit["fortran_order"], "shape": _header_of(original)[0] if shape is None else shape}
    text = repr(header).encode() if edit["garbage"] is None else edit["garbage"]
    text += b" " * (-(len(text) + 11) % 64) + b"\n"
    length = struct.pack("<H", len(text)) if edit["version"] == (1, 0) else \
        struct.pack("<I", len(text))
    head = b"\x93NUMPY" + bytes(edit["version"]) + length + text
    body = original[len(_raw_header(original)):]
    n = int(np.prod(header["shape"], dtype=object) * new_dtype.itemsize) \
        if all(isinstance(d, int) and d >= 0 for d in header["shape"]) else -1
    if edit["data"] == "match" and 0 <= n <= 2 ** 20:
        body = bytes(n)
    elif edit["data"] == "short":
        body = body[:len(body) // 2]
    elif edit["data"] == "long":
        body = body + bytes(64)
    return head + body, header


def _raw_header(data):
    f = io.BytesIO(data)
    np.lib.format.read_magic(f)                    # np.save writes version 1.0 here
    np.lib.format.read_array_header_1_0(f)
    return data[:f.tell()]


def _header_of(data):
    f = io.BytesIO(data)
    np.lib.format.read_magic(f)
    return np.lib.format.read_array_header_1_0(f)


@settings(max_examples=600, **FUZZ)
@given(base=st.sampled_from(["cnn", "rf", "ensemble"]), pick=st.floats(0, 1, exclude_max=True),
       edit=npy_edits())
def test_npy_header_mutations_of_model_files(model_members, work, base, pick, edit):
    mem = dict(model_members[base])
    doc = json.loads(mem["earmark.json"])
    names = sorted(doc["arrays"])
    name = names[int(pick * len(names))]
    entry = doc["arrays"][name]
    mem[entry["file"]], header = npy_member(mem[entry["file"]], edit)
    if edit["index"] == "update":
        entry.update(dtype=str(np.dtype(header["descr"])), shape=list(header["shape"]))
    elif edit["index"] == "remove":
        entry.pop("shape", None)
        entry.pop("dtype", None)
    mem["earmark.json"] = json.dumps(doc).encode()
    check_load(write_members(work / "npy.earmark", mem, compression=zipfile.ZIP_STORED))


# -- model files: the zip directory ---------------------------------------------------------------

# (offset in the central directory entry, struct format) of the fields worth lying about
CD_FIELDS = {"flags": (8, "<H"), "method": (10, "<H"), "crc": (16, "<I"),
             "compressed_size": (20, "<I"), "file_size": (24, "<I"), "name_length": (28, "<H"),
             "extra_length": (30, "<H"), "disk": (34, "<H"), "header_offset": (42, "<I")}
END_FIELDS = {"entries_disk": (8, "<H"), "entries_total": (10, "<H"), "cd_size": (12, "<I"),
              "cd_offset": (16, "<I"), "comment_length": (20, "<H")}
FIELD_VALUES = st.sampled_from([0, 1, 8, 12, 14, 99, 2 ** 16 - 1, 2 ** 31, 2 ** 32 - 1]) | \
    st.integers(0, 2 ** 32 - 1)


@settings(max_examples=400, **FUZZ)
@given(base=st.sampled_from(["cnn", "rf", "cnn-stored", "tagger-stored"]),
       pick=st.floats(0, 1, exclude_max=True),
       edits=st.lists(st.tuples(st.sampled_from(sorted(CD_FIELDS) + sorted(END_FIELDS)),
                                FIELD_VALUES), min_size=1, max_size=3))
def test_zip_directory_mutations_of_model_files(model_bases, work, base, pick, edits):
    data = bytearray(model_bases[base])
    entries = []
    pos = data.find(b"PK\x01\x02")
    while pos != -1:
        entries.append(pos)
        pos = data.find(b"PK\x01\x02", pos + 4)
    entry = entries[int(pick * len(entries))]
    end = data.rfind(b"PK\x05\x06")
    for field, value in edits:
        at, fmt = CD_FIELDS[field] if field in CD_FIELDS else END_FIELDS[field]
        where = (entry if field in CD_FIELDS else end) + at
        data[where:where + struct.calcsize(fmt)] = struct.pack(
            fmt, value % (1 << (8 * struct.calcsize(fmt))))
    path = work / "directory.earmark"
    path.write_bytes(bytes(data))
    check_load(path)


# -- audio ------------------------------------------------------------------------------------

AUDIO_READERS = {
    "info": audio.info,
    "load": audio.load,
    "load_resampled": lambda p: audio.load(p, sample_rate=16000),
    "iter_blocks": lambda p: list(audio.iter_blocks(p, sample_rate=11025, block_s=0.05)),
    "content_hash": audio.content_hash,
}


def check_audio(path):
    for name, reader in AUDIO_READERS.items():
        exc = _run(lambda: reader(path), AUDIO_MEMORY_BOUND)
        if exc is not None and not isinstance(exc, AudioError):
            raise AssertionError(f"audio {name} raised {type(exc).__name__}: {exc}") from exc


@settings(max_examples=700, **FUZZ)
@given(base=st.sampled_from(["wav16", "wavfloat", "flac"]),
       edits=st.lists(st.tuples(st.integers(0, 79), st.sampled_from(
           ["byte", "u16", "u32", "flip"]), st.integers(0, 2 ** 32 - 1)), min_size=1, max_size=4),
       cut=st.none() | st.integers(0, 4000))
def test_header_mutations_of_audio_files(audio_bases, work, base, edits, cut):
    data = bytearray(audio_bases[base])
    for at, kind, value in edits:          # the first 80 bytes: RIFF/fmt/data or fLaC/STREAMINFO
        if kind == "byte":
            data[at] = value & 0xFF
        elif kind == "flip":
            data[at] ^= 1 << (value % 8)
        else:
            fmt = "<H" if kind == "u16" else "<I"
            n = struct.calcsize(fmt)
            data[at:at + n] = struct.pack(fmt, value % (1 << (8 * n)))
    if cut is not None:
        del data[cut:]
    path = work / f"header.{'flac' if base == 'flac' else 'wav'}"
    path.write_bytes(bytes(data))
    check_audio(path)


@settings(max_examples=150, **FUZZ)
@given(magic=st.sampled_from([b"", b"RIFF", b"RIFF\xff\xff\xff\x7fWAVEfmt ", b"fLaC", b"OggS",
                              b"FORM", b"ID3"]), data=st.binary(max_size=600))
def test_random_bytes_as_audio(work, magic, data):
    path = work / "random.wav"
    path.write_bytes(magic + data)
    check_audio(path)
