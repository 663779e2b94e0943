"""Hostile and damaged model files: ``earmark.load`` refuses each with a ModelFileError that names
the file and the field or array, within its size budget, before decompressing what it refuses.

The helpers here (reading, editing and re-zipping model files) are shared with
test_fuzz_loaders.py.
"""

import io
import json
import struct
import tracemalloc
import zipfile
import zlib

import numpy as np
import pytest

import earmark
from earmark import bundle
from earmark.bundle import read_bundle, write_bundle
from earmark.errors import EarmarkError, ModelFileError

from _signals import FAST, SR, make_clip, write_dataset


# -- reading, editing and writing model files as a hand-editor or an attacker would ------------

def members(path):
    """Every member of a zip file, decompressed: name -> bytes (archive order)."""
    with zipfile.ZipFile(path) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


def write_members(path, mem, *, compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression=compression) as z:
        for name, data in mem.items():
            z.writestr(name, data)
    return path


def npy_bytes(arr):
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def edit_model(src, dst, *, meta=None, arrays=None, drop=()):
    """Copy model file ``src`` to ``dst`` with ``meta(doc)`` applied to earmark.json (in place),
    arrays set or added (name -> ndarray, or raw .npy bytes) and arrays dropped."""
    mem = members(src)
    doc = json.loads(mem["earmark.json"])
    if meta is not None:
        meta(doc)
    for name in drop:
        mem.pop(doc["arrays"].pop(name)["file"])
    for name, arr in (arrays or {}).items():
        entry = doc["arrays"].setdefault(name, {"file": f"arrays/extra{len(mem)}.npy"})
        if isinstance(arr, bytes):
            mem[entry["file"]] = arr
        else:
            mem[entry["file"]] = npy_bytes(arr)
            entry.update(dtype=str(arr.dtype), shape=list(arr.shape))
    mem["earmark.json"] = json.dumps(doc).encode()
    return write_members(dst, mem)


def setter(*keys, value=None, delete=False):
    """A ``meta`` edit that sets (or deletes) ``doc[k1][k2]...``."""
    def edit(doc):
        d = doc
        for k in keys[:-1]:
            d = d[k]
        if delete:
            del d[keys[-1]]
        else:
            d[keys[-1]] = value
    return edit


def patch_member_sizes(path, name, *, file_size=None, method=None, crc=None):
    """Rewrite a member's entries in the local header and the central directory in place."""
    data = bytearray(open(path, "rb").read())
    raw = name.encode()
    for sig, method_at, crc_at, size_at, name_at in ((b"PK\x03\x04", 8, 14, 22, 30),
                                                      (b"PK\x01\x02", 10, 16, 24, 46)):
        pos = data.find(sig)
        while pos != -1:
            if data[pos + name_at:pos + name_at + len(raw)] == raw:
                if method is not None:
                    data[pos + method_at:pos + method_at + 2] = struct.pack("<H", method)
                if crc is not None:
                    data[pos + crc_at:pos + crc_at + 4] = struct.pack("<I", crc)
                if file_size is not None:
                    data[pos + size_at:pos + size_at + 4] = struct.pack("<I", file_size)
            pos = data.find(sig, pos + 4)
    open(path, "wb").write(bytes(data))
    return path


def zip_bomb(src, dst, *, n_bytes, array="net.head.2.weight"):
    """``src`` with ``array`` replaced by ``n_bytes`` of float32 zeros, genuinely deflated (a few
    hundred bytes per MiB): a valid archive that unpacks to ``n_bytes``."""
    n_mib = n_bytes // 2 ** 20
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                  "shape": (n_mib * 2 ** 18,)})
    header = header.getvalue()
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    # after a full flush the compressor starts afresh, so every MiB of zeros deflates the same
    first = co.compress(header) + co.flush(zlib.Z_FULL_FLUSH)
    mib = co.compress(bytes(2 ** 20)) + co.flush(zlib.Z_FULL_FLUSH)
    stream = first + mib * n_mib + co.flush()
    crc = zlib.crc32(header)
    zeros = bytes(2 ** 20)
    for _ in range(n_mib):
        crc = zlib.crc32(zeros, crc)
    mem = members(src)
    doc = json.loads(mem["earmark.json"])
    member = doc["arrays"][array]["file"]
    doc["arrays"][array]["shape"] = [n_mib * 2 ** 18]
    mem["earmark.json"] = json.dumps(doc).encode()
    mem[member] = stream
    write_members(dst, mem, compression=zipfile.ZIP_STORED)
    return patch_member_sizes(dst, member, method=zipfile.ZIP_DEFLATED, crc=crc,
                              file_size=len(header) + n_mib * 2 ** 20)


def load_error(path):
    """The ModelFileError ``earmark.load(path)`` raises (the test fails on anything else)."""
    with pytest.raises(ModelFileError) as e:
        earmark.load(path)
    assert str(path) in str(e.value)
    return str(e.value)


# -- model files to damage ----------------------------------------------------------------------

def forest_model_file(cnn_path, path, *, seed=0):
    """A classifier file with a random-forest head on the 'classic' embedding, built without
    the embedding step: the head is fitted on made-up embeddings (cheap), the rest is what
    ``SoundClassifier(recipe="embed:classic+rf")`` saves."""
    from earmark.models.embedded import _jsonable, embedder_features
    from earmark.models.embeddings import get_embedder
    from earmark.models.heads import head_to_state, make_head

    embedder = get_embedder("classic")
    dim = embedder.settings()["dim"]
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1, 2], 10)
    x = rng.standard_normal((len(y), dim)) + y[:, None]
    head_cfg, head_arrays = head_to_state(make_head("rf", seed=seed, inner_cv=None).fit(x, y))
    doc = json.loads(members(cnn_path)["earmark.json"])
    meta = {"kind": "classifier", "labels": doc["labels"], "aggregation": "mean",
            "features": embedder_features(embedder).to_dict(),
            "model": {"family": "embedding", "embedder": "classic",
                      "embedder_settings": _jsonable(embedder.settings()),
                      "licence": embedder.licence, "n_classes": 3, "inner_cv": 3,
                      "head": head_cfg},
            "params": {**doc["params"], "recipe": "embed:classic+rf"},
            "training": {"config": None, "history": [], "info": {}, "augmentation": None},
            "licence": embedder.licence}
    return write_bundle(path, meta=meta, arrays={f"head.{k}": v for k, v in head_arrays.items()})


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    """Small valid model files of each layout: a CNN classifier (one epoch), a forest head on
    the 'classic' embedding, a tagger and an ensemble of the first two; plus probe clips."""
    import soundfile as sf

    root = tmp_path_factory.mktemp("hostile_models")
    data = write_dataset(root / "data", per_class=4, groups=2)
    cnn = earmark.SoundClassifier(**dict(FAST, epochs=1)).fit(data)
    files = {"cnn": cnn.save(root / "cnn.earmark")}
    files["rf"] = forest_model_file(files["cnn"], root / "rf.earmark")
    files["ensemble"] = earmark.EnsembleClassifier.from_fitted(
        [cnn, earmark.load(files["rf"])]).save(root / "ensemble.earmark")

    def as_tagger(doc):
        doc.update(kind="tagger", task="tagging", aggregation="mean",
                   thresholds=[0.5, 0.5, 0.5], threshold_source="test")
        doc["model"]["activation"] = "sigmoid"

    files["tagger"] = edit_model(files["cnn"], root / "tagger.earmark", meta=as_tagger)
    rng = np.random.default_rng(0)
    probes = []
    for kind in ("low", "high", "noise"):
        probes.append(str(root / f"probe_{kind}.wav"))
        sf.write(probes[-1], make_clip(kind, rng), SR)
    return {k: str(v) for k, v in files.items()}, probes


def test_the_valid_files_load(model_files):
    files, _ = model_files
    kinds = {name: type(earmark.load(p)).__name__ for name, p in files.items()}
    assert kinds == {"cnn": "SoundClassifier", "rf": "SoundClassifier", "tagger": "SoundTagger",
                     "ensemble": "EnsembleClassifier"}


# -- fields: every schema error names the field ---------------------------------------------------

FIELD_CASES = [
    # (file, edit, the field named)
    ("cnn", setter("labels", value=["high", "low", "noise", "extra"]), "'labels'"),
    ("cnn", setter("labels", value=["high", "low"]), "'labels'"),
    ("cnn", setter("labels", value="high,low,noise"), "'labels'"),
    ("cnn", setter("labels", value=["high", "high", "noise"]), "'labels'"),
    ("cnn", setter("labels", value=["high", 2, "noise"]), "'labels'"),
    ("cnn", setter("labels", delete=True), "'labels'"),
    ("cnn", setter("model", "n_classes", value=-3), "'model.n_classes'"),
    ("cnn", setter("model", "n_classes", value=10 ** 12), "'model.n_classes'"),
    ("cnn", setter("model", "n_classes", value="3"), "'model.n_classes'"),
    ("cnn", setter("model", "n_classes", value=True), "'model.n_classes'"),
    ("cnn", setter("features", value=[8000, 256]), "'features'"),
    ("cnn", setter("features", delete=True), "'features'"),
    ("cnn", setter("features", "n_mels", value="many"), "'features'"),
    ("cnn", setter("features", "window_s", value=-1), "'features'"),
    ("cnn", setter("model", delete=True), "'model'"),
    ("cnn", setter("model", value=3), "'model'"),
    ("cnn", setter("model", "family", value="transformer"), "'model.family'"),
    ("cnn", setter("model", "network", value=7), "'model.network'"),
    ("cnn", setter("model", "network", value="resnet9000"), "'model.network'"),
    ("cnn", setter("model", "network_kwargs", value={"width": -3}), "'model.network_kwargs'"),
    ("cnn", setter("model", "network_kwargs", value={"bogus": 1}), "'model.network_kwargs'"),
    ("cnn", setter("model", "network_kwargs", value=[1]), "'model.network_kwargs'"),
    ("cnn", setter("model", "activation", value="sigmoid"), "'model.activation'"),
    ("cnn", setter("params", value=["sbcnn"]), "'params'"),
    ("cnn", setter("params", "aggregation", value="median"), "'params.aggregation'"),
    ("cnn", setter("aggregation", value=3), "'aggregation'"),
    ("cnn", setter("training", value="yes"), "'training'"),
    ("cnn", setter("training", "config", value={"epochs": 1, "bogus": 2}),
     "'training.config'"),
    ("cnn", setter("training", "config", "epochs", value=-5), "'training.config'"),
    ("cnn", setter("training", "augmentation", value={"bogus": 1}), "'training.augmentation'"),
    ("cnn", setter("training", "history", value={"epoch": 1}), "'training.history'"),
    ("cnn", setter("licence", value=["MIT"]), "'licence'"),
    ("cnn", setter("task", value="regression"), "'task'"),
    ("cnn", setter("task", value="tagging"), "'task'"),
    ("tagger", setter("task", delete=True), "'task'"),
    ("ensemble", setter("members", 0, "task", value="tagging"), "'members[0].task'"),
    ("rf", setter("model", "head", "classes", value=[0, 1, 5]), "'model.head.classes'"),
    ("rf", setter("model", "head", "classes", value=[0, -1, 2]), "'model.head.classes'"),
    ("rf", setter("model", "head", "kind", value="xgboost"), "'model.head.kind'"),
    ("rf", setter("model", "head", "format", value="pickle"), "'model.head.format'"),
    ("rf", setter("model", "head", "n_features", value=-208), "'model.head.n_features'"),
    ("rf", setter("model", "head", value=None), "'model.head'"),
    ("rf", setter("model", "embedder", value=None), "'model.embedder'"),
    ("rf", setter("model", "embedder_settings", value=None), "'model.embedder_settings'"),
    ("rf", setter("model", "task", value="tagging"), "'model.task'"),
    ("tagger", setter("thresholds", value=[0.5, 0.5]), "'thresholds'"),
    ("tagger", setter("thresholds", value=[0.5, float("nan"), 0.5]), "'thresholds'"),
    ("tagger", setter("thresholds", value=[0.5, "high", 0.5]), "'thresholds'"),
    ("tagger", setter("thresholds", value=[0.5, 2.0, 0.5]), "'thresholds'"),
    ("tagger", setter("thresholds", delete=True), "'thresholds'"),
    ("tagger", setter("model", "activation", value="softmax"), "'model.activation'"),
    ("ensemble", setter("members", value={"0": {}}), "'members'"),
    ("ensemble", setter("members", 1, "labels", value=["high", "noise", "low"]),
     "'members[1].labels'"),
    ("ensemble", setter("members", 0, "kind", value="ensemble"), "'members[0].kind'"),
    ("ensemble", setter("members", 1, "model", "n_classes", value=0),
     "'members[1].model.n_classes'"),
]


@pytest.mark.parametrize("name, edit, field", FIELD_CASES,
                         ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(FIELD_CASES)])
def test_a_damaged_field_is_a_model_file_error_naming_it(model_files, tmp_path, name, edit,
                                                         field):
    path = edit_model(model_files[0][name], tmp_path / "edited.earmark", meta=edit)
    assert f"field {field}" in load_error(path)


def test_an_unknown_kind_is_named(model_files, tmp_path):
    path = edit_model(model_files[0]["cnn"], tmp_path / "m.earmark",
                      meta=setter("kind", value="regressor"))
    assert "kind 'regressor'" in load_error(path)


@pytest.mark.parametrize("doc", [b"[1, 2]", b"\"text\"", b"{\"format\": ", b"\xff\xfe{}",
                                 b"[" * 100_000 + b"]" * 100_000])
def test_earmark_json_that_is_not_an_object_is_refused(model_files, tmp_path, doc):
    mem = members(model_files[0]["cnn"])
    mem["earmark.json"] = doc
    load_error(write_members(tmp_path / "m.earmark", mem))


def test_an_oversized_earmark_json_is_refused_before_it_is_read(model_files, tmp_path):
    mem = members(model_files[0]["cnn"])
    mem["earmark.json"] = b" " * (bundle.MAX_JSON_BYTES + 1)
    tracemalloc.start()
    try:
        msg = load_error(write_members(tmp_path / "m.earmark", mem))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "earmark.json is 16.0 MiB" in msg and "at most 16.0 MiB" in msg
    assert peak < 2 * 2 ** 20


# -- arrays: only those the model declares, with the shapes its config implies -------------------

def test_an_array_the_model_does_not_declare_is_refused(model_files, tmp_path):
    path = edit_model(model_files[0]["cnn"], tmp_path / "m.earmark",
                      arrays={"payload": np.zeros(16, np.float32)})
    assert "array(s) 'payload' are not part of this model" in load_error(path)


def test_a_missing_array_is_named(model_files, tmp_path):
    path = edit_model(model_files[0]["cnn"], tmp_path / "m.earmark", drop=["net.head.5.bias"])
    assert "lacks array(s) 'net.head.5.bias'" in load_error(path)


def test_norm_arrays_only_come_with_dataset_normalisation(model_files, tmp_path):
    path = edit_model(model_files[0]["cnn"], tmp_path / "m.earmark",
                      meta=setter("features", "normalize", value="window"))
    assert "'norm.mean', 'norm.std' are not part of this model" in load_error(path)


@pytest.mark.parametrize("array, value, says", [
    ("net.head.5.bias", np.zeros(4, np.float32), "has shape (4,); the model's config implies (3,)"),
    ("net.head.5.weight", np.zeros((3, 65), np.float32), "implies (3, 64)"),
    ("frontend.mel_basis", np.zeros((32, 128), np.float32), "implies (32, 129)"),
    ("norm.std", np.ones((32, 1), np.float32), "implies (32,)"),
    ("net.head.5.bias", np.zeros(3, np.int32), "has dtype int32; the model needs floats"),
    ("net.features.1.num_batches_tracked", np.array(2.5),
     "has dtype float64; the model needs integers"),
])
def test_an_array_of_another_shape_or_kind_is_refused(model_files, tmp_path, array, value,
                                                      says):
    path = edit_model(model_files[0]["cnn"], tmp_path / "m.earmark", arrays={array: value})
    msg = load_error(path)
    assert f"array {array!r}" in msg and says in msg


def test_a_network_output_that_disagrees_with_the_labels_is_refused(model_files, tmp_path):
    # labels and n_classes edited together: the saved output layer no longer fits
    def four(doc):
        doc["labels"].append("extra")
        doc["model"]["n_classes"] = 4
    msg = load_error(edit_model(model_files[0]["cnn"], tmp_path / "m.earmark", meta=four))
    assert "array 'net.head.5.bias' has shape (3,); the model's config implies (4,)" in msg


def test_a_forest_whose_tree_loops_is_refused(model_files, tmp_path):
    _, arrays = read_bundle(model_files[0]["rf"])
    left = arrays["head.rf.left"].copy()
    inner = np.flatnonzero(left != -1)
    left[inner[1]] = 0                  # back to the root of its tree: prediction would not end
    path = edit_model(model_files[0]["rf"], tmp_path / "m.earmark",
                      arrays={"head.rf.left": left})
    assert "array 'head.rf.left': a child index points outside its tree or back up it" in \
        load_error(path)


def test_a_forest_that_splits_on_a_missing_feature_is_refused(model_files, tmp_path):
    _, arrays = read_bundle(model_files[0]["rf"])
    feature = arrays["head.rf.feature"].copy()
    feature[arrays["head.rf.left"] != -1] = 208      # the embedding has 208 values: 0..207
    path = edit_model(model_files[0]["rf"], tmp_path / "m.earmark",
                      arrays={"head.rf.feature": feature})
    assert "'head.rf.feature': a split on a feature outside [0, 208)" in load_error(path)


def test_arrays_of_the_same_learned_size_must_agree(model_files, tmp_path):
    _, arrays = read_bundle(model_files[0]["rf"])
    path = edit_model(model_files[0]["rf"], tmp_path / "m.earmark",
                      arrays={"head.rf.threshold": arrays["head.rf.threshold"][:-1]})
    assert "array 'head.rf.threshold' has shape" in load_error(path)


def test_an_ensemble_member_array_outside_its_model_is_refused(model_files, tmp_path):
    path = edit_model(model_files[0]["ensemble"], tmp_path / "m.earmark",
                      arrays={"m1/net.head.5.bias": np.zeros(3, np.float32)})
    assert "'m1/net.head.5.bias' are not part of this model" in load_error(path)


def test_non_finite_weights_are_refused(model_files, tmp_path):
    bias = np.array([0.0, np.nan, 0.0], np.float32)
    path = edit_model(model_files[0]["cnn"], tmp_path / "m.earmark",
                      arrays={"net.head.5.bias": bias})
    assert "array 'net.head.5.bias' holds NaN or infinite values" in load_error(path)


def test_big_endian_arrays_load_and_score_the_same(model_files, tmp_path):
    files, probes = model_files
    _, arrays = read_bundle(files["cnn"])
    swapped = {k: v.astype(v.dtype.newbyteorder(">")) for k, v in arrays.items()}
    path = edit_model(files["cnn"], tmp_path / "m.earmark", arrays=swapped)
    assert json.loads(members(path)["earmark.json"])["arrays"]["net.head.5.bias"]["dtype"] == \
        ">f4"
    np.testing.assert_array_equal(earmark.load(path).predict_proba(probes),
                                  earmark.load(files["cnn"]).predict_proba(probes))


# -- the archive: headers, sizes, deflate data ---------------------------------------------------

def npy_header(dtype, shape, fortran_order=False):
    """The bytes of a version 1.0 .npy header."""
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": np.lib.format.dtype_to_descr(
        np.dtype(dtype)), "fortran_order": fortran_order, "shape": tuple(shape)})
    return out.getvalue()


def _with_member(src, dst, array, data):
    mem = members(src)
    mem[json.loads(mem["earmark.json"])["arrays"][array]["file"]] = data
    return write_members(dst, mem)


def test_an_npy_header_declaring_a_huge_shape_is_refused_unread(model_files, tmp_path):
    bias = npy_bytes(np.zeros(3, np.float32))
    data = npy_header("<f4", (999_999_999_999,)) + bias[-12:]
    msg = load_error(_with_member(model_files[0]["cnn"], tmp_path / "m.earmark",
                                  "net.head.5.bias", data))
    assert "its header says (999999999999,) x float32 = 3999999999996 bytes, but the archive " \
           "holds 12" in msg


@pytest.mark.parametrize("dtype", ["O", "<U4", "<c8", [("a", "<f4")], "<M8[s]"])
def test_an_npy_header_of_a_non_numeric_dtype_is_refused(model_files, tmp_path, dtype):
    data = npy_header(dtype, (1,)) + bytes(np.dtype(dtype).itemsize)
    msg = load_error(_with_member(model_files[0]["cnn"], tmp_path / "m.earmark",
                                  "net.head.5.bias", data))
    assert "array 'net.head.5.bias'" in msg
    assert ("Python objects" if dtype == "O" else "is not a plain numeric type") in msg


def test_a_decompression_bomb_is_refused_before_it_is_decompressed(model_files, tmp_path):
    # 400 MiB of zeros in 400 kB: under the 2 GiB budget, beyond 256 MiB + 100 x the file
    path = zip_bomb(model_files[0]["cnn"], tmp_path / "bomb.earmark", n_bytes=400 * 2 ** 20)
    with zipfile.ZipFile(path) as z:                  # it is a genuine, valid bomb
        info = z.getinfo("arrays/0020.npy")
        assert info.file_size > 400 * 2 ** 20 and info.compress_size < 500_000
        with z.open(info) as f:
            assert np.lib.format.read_magic(f) == (1, 0)
    tracemalloc.start()
    try:
        msg = load_error(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "would unpack to" in msg and "decompression bomb" in msg
    assert peak < 4 * 2 ** 20


def test_arrays_beyond_the_size_budget_are_refused_from_the_directory(model_files, tmp_path):
    # the directory claims 3 GiB for one array: refused before any byte of it is read
    path = write_members(tmp_path / "m.earmark", members(model_files[0]["cnn"]),
                         compression=zipfile.ZIP_STORED)
    patch_member_sizes(path, "arrays/0020.npy", file_size=3 * 2 ** 30)
    msg = load_error(path)
    assert "would take 3.00 GiB uncompressed" in msg and "at most 2.00 GiB" in msg


def test_corrupt_deflate_data_is_a_model_file_error_naming_the_array(model_files, tmp_path):
    data = bytearray(open(model_files[0]["cnn"], "rb").read())
    with zipfile.ZipFile(model_files[0]["cnn"]) as z:
        info = z.getinfo("arrays/0020.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + 100:start + 140] = bytes(b ^ 0x5A for b in data[start + 100:start + 140])
    (tmp_path / "m.earmark").write_bytes(bytes(data))
    assert "array 'net.head.2.weight'" in load_error(tmp_path / "m.earmark")


def test_an_unknown_compression_method_is_a_model_file_error(model_files, tmp_path):
    path = write_members(tmp_path / "m.earmark", members(model_files[0]["cnn"]))
    patch_member_sizes(path, "arrays/0020.npy", method=99)      # AES / unknown
    load_error(path)


# -- writing ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad, says", [
    (np.array([1.0, np.nan]), "holds NaN or infinite values"),
    (np.array([np.inf], np.float32), "holds NaN or infinite values"),
    (np.array(["a", "b"]), "only numeric arrays"),
    (np.array([1 + 2j]), "only numeric arrays"),
])
def test_write_bundle_refuses_what_read_bundle_would_refuse(tmp_path, bad, says):
    path = tmp_path / "m.earmark"
    write_bundle(path, meta={"labels": ["a"]}, arrays={"w": np.ones(2)})
    before = path.read_bytes()
    with pytest.raises(ModelFileError, match=says):
        write_bundle(path, meta={"labels": ["a"]}, arrays={"w": np.ones(2), "x": bad})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.earmark"]


def test_a_model_with_non_finite_weights_is_never_saved(model_files, tmp_path):
    import torch

    clf = earmark.load(model_files[0]["cnn"])
    with torch.no_grad():
        clf.model_.net.head[5].bias[1] = float("nan")
    with pytest.raises(ModelFileError, match="'net.head.5.bias' holds NaN"):
        clf.save(tmp_path / "nan.earmark")
    assert list(tmp_path.iterdir()) == []


def test_only_earmark_errors_escape(model_files, tmp_path):
    """A sweep of truncations: whatever is cut off, only EarmarkError subclasses come out."""
    data = open(model_files[0]["ensemble"], "rb").read()
    for n in np.linspace(0, len(data), 40).astype(int):
        (tmp_path / "cut.earmark").write_bytes(data[:n] + data[n + 1:])   # one byte missing
        try:
            earmark.load(tmp_path / "cut.earmark")
        except EarmarkError:
            pass
