"""earmark.bundle: the model file round-trips, never unpickles, names versions, is atomic."""

import io
import json
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from earmark import bundle
from earmark.bundle import FORMAT_NAME, FORMAT_VERSION, read_bundle, write_bundle
from earmark.errors import ModelFileError

META = {"labels": ["kick", "snare", "hihat"],
        "features": {"sample_rate": 22050, "n_mels": 64, "fmax": None, "top_db": 80.0},
        "training": {"history": [{"epoch": 1, "loss": 1.25}, {"epoch": 2, "loss": 0.5}],
                     "seed": 0, "note": "zoë — ünïcode"}}


def _arrays(rng):
    return {"conv1.weight": rng.standard_normal((8, 1, 3, 3)).astype(np.float32),
            "conv1.bias": np.zeros(8, np.float32),
            "head.classes": np.arange(3, dtype=np.int64),
            "bn.num_batches_tracked": np.array(12345678901, dtype=np.int64),    # 0-d
            "norm.mean": rng.standard_normal(64),                                # float64
            "empty": np.zeros((0, 4), np.float32)}


def _ls(folder):
    return sorted(os.listdir(folder))


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _npy(arr, allow_pickle=False):
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def test_round_trip_keeps_arrays_and_meta(tmp_path, rng):
    arrays = _arrays(rng)
    assert write_bundle(tmp_path / "m.earmark", meta=META, arrays=arrays) == str(
        tmp_path / "m.earmark")
    meta, got = read_bundle(tmp_path / "m.earmark")
    assert set(got) == set(arrays)
    for name, a in arrays.items():
        assert got[name].dtype == a.dtype and got[name].shape == a.shape, name
        np.testing.assert_array_equal(got[name], a)
    for key, value in META.items():
        assert meta[key] == value
    assert meta["format"] == FORMAT_NAME and meta["format_version"] == FORMAT_VERSION == 1
    assert meta["versions"]["numpy"] == np.__version__
    assert meta["arrays"]["conv1.weight"]["shape"] == [8, 1, 3, 3]
    assert _ls(tmp_path) == ["m.earmark"]


def test_numpy_values_in_meta_are_written_as_plain_json(tmp_path):
    write_bundle(tmp_path / "m", meta={"thresholds": np.array([0.25, 0.5]),
                                      "n": np.int64(3), "f": np.float32(0.5)}, arrays={})
    meta, arrays = read_bundle(tmp_path / "m")
    assert meta["thresholds"] == [0.25, 0.5] and meta["n"] == 3 and meta["f"] == 0.5
    assert arrays == {}


def test_the_file_is_a_zip_of_json_and_npy(tmp_path, rng):
    write_bundle(tmp_path / "m", meta=META, arrays=_arrays(rng))
    with zipfile.ZipFile(tmp_path / "m") as z:
        names = z.namelist()
        doc = json.loads(z.read("earmark.json"))
        assert all(n == "earmark.json" or (n.startswith("arrays/") and n.endswith(".npy"))
                   for n in names)
        for entry in doc["arrays"].values():
            # every array loads with pickling disabled
            np.load(io.BytesIO(z.read(entry["file"])), allow_pickle=False)


def test_object_arrays_are_refused_when_writing(tmp_path):
    with pytest.raises(ModelFileError, match="'labels' has dtype object"):
        write_bundle(tmp_path / "m", meta={}, arrays={"labels": np.array(["a", None],
                                                                         dtype=object)})
    assert _ls(tmp_path) == []


class _Trap:
    """Unpickling this object creates a file: proof that pickled code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_a_pickled_array_in_the_file_is_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    evil = np.empty(1, dtype=object)
    evil[0] = _Trap(marker)
    assert pickle.loads(pickle.dumps(_Trap(tmp_path / "check"))) is None   # the trap works...
    assert (tmp_path / "check").exists()
    doc = {"format": FORMAT_NAME, "format_version": 1,
           "arrays": {"w": {"file": "arrays/0000.npy", "dtype": "object", "shape": [1]}}}
    _zip(tmp_path / "evil.earmark", {"earmark.json": json.dumps(doc),
                                     "arrays/0000.npy": _npy(evil, allow_pickle=True)})
    with pytest.raises(ModelFileError, match=r"evil\.earmark"):
        read_bundle(tmp_path / "evil.earmark")
    assert not marker.exists()                    # ...and read_bundle did not spring it


@pytest.mark.parametrize("version", [2, 0, "1"])
def test_other_format_versions_name_both_versions(tmp_path, version):
    doc = {"format": FORMAT_NAME, "format_version": version, "versions": {"earmark": "9.9.9"},
           "arrays": {}}
    _zip(tmp_path / "m", {"earmark.json": json.dumps(doc)})
    with pytest.raises(ModelFileError) as e:
        read_bundle(tmp_path / "m")
    msg = str(e.value)
    assert f"format version {version}" in msg and "format version 1" in msg
    assert str(tmp_path / "m") in msg
    if version == 2:
        assert "9.9.9" in msg and "upgrade earmark" in msg


def test_not_a_zip_is_not_a_model_file(tmp_path):
    (tmp_path / "m.earmark").write_text("weights go here")
    with pytest.raises(ModelFileError, match=r"m\.earmark: not an earmark model file"):
        read_bundle(tmp_path / "m.earmark")


def test_zip_without_earmark_json_is_not_a_model_file(tmp_path):
    _zip(tmp_path / "m.zip", {"model.pt": b"\x80\x04"})
    with pytest.raises(ModelFileError, match="no earmark.json"):
        read_bundle(tmp_path / "m.zip")


def test_zip_of_another_format_is_not_a_model_file(tmp_path):
    _zip(tmp_path / "m.zip", {"earmark.json": json.dumps({"format": "other", "format_version": 1})})
    with pytest.raises(ModelFileError, match="format 'other'"):
        read_bundle(tmp_path / "m.zip")


def test_missing_model_file(tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        read_bundle(tmp_path / "nope.earmark")


def test_missing_array_member_is_a_damaged_file(tmp_path):
    doc = {"format": FORMAT_NAME, "format_version": 1,
           "arrays": {"w": {"file": "arrays/0000.npy", "dtype": "float32", "shape": [2]}}}
    _zip(tmp_path / "m", {"earmark.json": json.dumps(doc)})
    with pytest.raises(ModelFileError, match="damaged model file: array 'w'"):
        read_bundle(tmp_path / "m")


def test_truncated_file_is_a_model_file_error(tmp_path, rng):
    write_bundle(tmp_path / "m", meta=META, arrays=_arrays(rng))
    data = (tmp_path / "m").read_bytes()
    (tmp_path / "m").write_bytes(data[:len(data) // 2])
    with pytest.raises(ModelFileError):
        read_bundle(tmp_path / "m")


# -- atomic writing ------------------------------------------------------------------------------

def test_failed_write_leaves_the_old_file_untouched(tmp_path, rng):
    path = tmp_path / "m.earmark"
    write_bundle(path, meta=META, arrays=_arrays(rng))
    before = path.read_bytes()
    # arrays are written in name order: 'a' goes in, then 'b' fails half-way through the zip
    with pytest.raises(ModelFileError):
        write_bundle(path, meta=META, arrays={"a": np.ones(1000, np.float32),
                                              "b": np.array([object()], dtype=object)})
    assert path.read_bytes() == before
    assert _ls(tmp_path) == ["m.earmark"]
    with pytest.raises(TypeError):                       # meta that is not JSON
        write_bundle(path, meta={"bad": {1, 2}}, arrays={"a": np.ones(3)})
    assert path.read_bytes() == before
    assert _ls(tmp_path) == ["m.earmark"]


def test_interrupted_write_leaves_the_old_file_untouched(tmp_path, rng, monkeypatch):
    path = tmp_path / "m.earmark"
    write_bundle(path, meta=META, arrays=_arrays(rng))
    before = path.read_bytes()
    calls = []
    real_save = np.save

    def save_then_interrupt(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_save(*args, **kwargs)

    monkeypatch.setattr(bundle.np, "save", save_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_bundle(path, meta=META, arrays=_arrays(rng))
    assert len(calls) == 2
    assert path.read_bytes() == before
    assert _ls(tmp_path) == ["m.earmark"]
