"""Tests of earmark.examples: the drum example data, built from fake Debian packages.

The fake packages are real .deb files made with ``dpkg-deb -b``; they hold small Hydrogen kits
(generated noise bursts) in the three drumkit.xml layouts Hydrogen has used. Nothing is downloaded:
apt-get is either replaced by a script on PATH or not used at all (``debs_dir``).
"""

import csv
import hashlib
import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from earmark._home import earmark_home
from earmark.examples import DRUM_LABELS, METADATA_COLUMNS, debian, drum_label, drums, fetch_drums
from earmark.errors import DatasetError, ParameterError

SR = 16000
PACKAGES = ("fake-drumkits", "fake-drumdata")
NS = "http://www.hydrogen-music.org/drumkit"

# --------------------------------------------------------------------------- fake packages

def _burst(seed, *, dur_s=0.2, channels=1):
    """A decaying noise burst: every seed gives different samples."""
    rng = np.random.default_rng(seed)
    n = int(dur_s * SR)
    env = np.exp(-np.arange(n) / (0.05 * SR))[:, None]
    return np.clip(0.5 * rng.standard_normal((n, channels)) * env, -1, 1)


def _kit_xml(instruments, style):
    """drumkit.xml text. instruments: [(name, [sample file names])].

    style 'component': Hydrogen >= 0.9.7 (namespace, instrumentComponent/layer/filename);
    'layer': 0.9.x (namespace, instrument/layer/filename); 'legacy': no namespace,
    instrument/filename.
    """
    parts = []
    for name, files in instruments:
        if style == "legacy":
            body = "".join(f"<filename>{f}</filename>" for f in files)
        else:
            layers = "".join(f"<layer><min>0</min><filename>{f}</filename></layer>" for f in files)
            body = (f"<instrumentComponent><component_id>0</component_id>{layers}"
                    "</instrumentComponent>" if style == "component" else layers)
        parts.append(f"<instrument><id>0</id><name>{name}</name><volume>1</volume>{body}"
                     "</instrument>")
    xmlns = "" if style == "legacy" else f' xmlns="{NS}"'
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<drumkit_info{xmlns}><name>kit</name>'
            f"<instrumentList>{''.join(parts)}</instrumentList></drumkit_info>\n")


# kit -> (xml style, [(instrument name, [(file name, audio or bytes or None)])])
# int16, so that the WAV and the FLAC copy hold exactly the same PCM
SNARE = np.round(_burst(1) * 32767).astype(np.int16)
LONG_HAT = 0.5 * np.sin(2 * np.pi * 440 * np.arange(6 * SR) / SR)[:, None]  # 6 s, capped to 4 s
KITS = {
    "fake-drumkits": {
        "Rock Kit": ("component", [
            ("Kick Drum", [("kick_soft.wav", _burst(10)), ("kick_hard.wav", _burst(11))]),
            ("Snare", [("snare.wav", SNARE)]),            # same PCM as Old Kit's snare.flac
            ("Closed Hi-Hat", [("hh_closed.wav", _burst(12))]),
            ("Open Hi-Hat", [("hh_open.wav", LONG_HAT)]),
            ("Cowbell", [("cowbell.wav", _burst(13))]),   # other percussion: skipped
            ("Crash/Ride", [("crashride.wav", _burst(14))]),  # ambiguous: skipped
            ("Snare Roll", [("roll.wav", _burst(15))]),   # articulation: skipped
            ("Hand Clap", [("clap.wav", _burst(16))]),
            ("Ride", [("ride.wav", _burst(17, channels=2))]),
            ("Crash", [("crash.wav", _burst(18))]),
            ("Tom Hi", [("tom.wav", _burst(19))]),
            ("Tom Low", [("missing.wav", None)]),         # named in the XML, not in the package
            ("Kick 2", [("short.wav", _burst(20, dur_s=0.005))]),
            ("Snare Rimshot", [("garbage.wav", b"RIFF this is not audio")]),
        ]),
        "Old Kit": ("legacy", [
            ("Kick", [("kick.wav", _burst(30))]),
            ("Snare", [("snare.flac", SNARE)]),
        ]),
        "Millo_A": ("layer", [("Kick", [("k.wav", _burst(40))])]),
        # An absolute path from the kit author's machine: the file next to drumkit.xml is used.
        "Millo_B": ("layer", [("Snare", [("/home/author/kits/Millo_B/s.wav", _burst(41))])]),
        "TR808EmulationKit": ("layer", [("Kick Long", [("808.wav", _burst(50))])]),
        "The Black Pearl 1.0": ("component", [
            ("Pearl Snare", [("ps.wav", _burst(60))]),
            ("Sabian Hat Pedal", [("pedal.wav", _burst(61))]),
        ]),
    },
    "fake-drumdata": {
        "GMRockKit": ("layer", [
            ("Kick", [("gk.wav", _burst(70))]),
            ("Hat Open", [("gho.wav", _burst(71))]),
        ]),
    },
}
# What the build must produce: (kit, label) -> clips, and the kit families.
EXPECTED = {
    ("Rock Kit", "kick"): 2, ("Rock Kit", "hihat_closed"): 1, ("Rock Kit", "hihat_open"): 1,
    ("Rock Kit", "clap"): 1, ("Rock Kit", "ride"): 1, ("Rock Kit", "crash"): 1,
    ("Rock Kit", "tom"): 1,
    ("Old Kit", "kick"): 1, ("Old Kit", "snare"): 1,
    ("Millo_A", "kick"): 1, ("Millo_B", "snare"): 1,
    ("The Black Pearl 1.0", "snare"): 1, ("The Black Pearl 1.0", "hihat_closed"): 1,
    ("GMRockKit", "kick"): 1, ("GMRockKit", "hihat_open"): 1,
}
GROUP_OF_KIT = {"Rock Kit": "Rock Kit", "Old Kit": "Old Kit", "Millo_A": "Millo",
                "Millo_B": "Millo", "The Black Pearl 1.0": "AVL", "GMRockKit": "AVL"}


def _make_deb(package, kits, out_dir):
    src = out_dir / f"src-{package}"
    (src / "DEBIAN").mkdir(parents=True)
    (src / "DEBIAN" / "control").write_text(textwrap.dedent(f"""\
        Package: {package}
        Version: 1.0-1
        Architecture: all
        Maintainer: Test <test@example.org>
        Description: fake Hydrogen drum kits for earmark's tests
        """))
    doc = src / "usr/share/doc" / package
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(f"License: TEST-LICENCE-OF-{package}\n")
    for kit, (style, instruments) in kits.items():
        kit_dir = src / "usr/share/hydrogen/data/drumkits" / kit
        kit_dir.mkdir(parents=True)
        (kit_dir / "drumkit.xml").write_text(
            _kit_xml([(name, [f for f, _ in files]) for name, files in instruments], style))
        for _, files in instruments:
            for fn, content in files:
                path = kit_dir / Path(fn).name
                if isinstance(content, bytes):
                    path.write_bytes(content)
                elif content is not None:
                    sf.write(path, content, SR, subtype="PCM_16")
    deb = out_dir / f"{package}_1.0-1_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "-b", str(src), str(deb)],
                   check=True, capture_output=True)
    shutil.rmtree(src)
    return deb


@pytest.fixture(scope="module")
def debs(tmp_path_factory):
    if shutil.which("dpkg-deb") is None:
        pytest.skip("dpkg-deb is not on PATH: cannot build the fake .deb files")
    out = tmp_path_factory.mktemp("debs")
    for package, kits in KITS.items():
        _make_deb(package, kits, out)
    return out


@pytest.fixture(scope="module")
def built(debs, tmp_path_factory):
    """One build shared by the read-only tests."""
    base = tmp_path_factory.mktemp("built")
    root = fetch_drums(base / "drums", cache_dir=base / "cache", debs_dir=debs,
                       packages=PACKAGES, progress=False)
    return root


@pytest.fixture(autouse=True)
def _no_user_env(monkeypatch):
    monkeypatch.delenv("EARMARK_DEBS_DIR", raising=False)
    monkeypatch.delenv("EARMARK_HOME", raising=False)


def _rows(root):
    with open(root / "metadata.csv", newline="") as f:
        return list(csv.DictReader(f))


def _tree_digest(root):
    h = hashlib.sha1()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode() + p.read_bytes())
    return h.hexdigest()


def _fake_apt(tmp_path, script):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    apt = bin_dir / "apt-get"
    apt.write_text("#!/bin/sh\n" + textwrap.dedent(script))
    apt.chmod(0o755)
    return bin_dir


# --------------------------------------------------------------------------- labels

@pytest.mark.parametrize("name, label", [
    ("Kick Drum", "kick"), ("BassDrum", "kick"), ("c3 - bass drum 1", "kick"),
    ('Kick (Tama Superstar 22")', "kick"),
    ("Snare Jazz", "snare"), ("Pearl Snare Rimshot", "snare"),
    ("Tom Low", "tom"), ("Floor Tom", "tom"), ("tomhi2", "tom"),
    ("Closed Hi-Hat", "hihat_closed"), ("Closed HH", "hihat_closed"),
    ("Hat Pedal", "hihat_closed"), ("VariBreaks Hat 1 Cl", "hihat_closed"),
    ("Open Hi-Hat", "hihat_open"), ("Sabian Hat Semi-Open", "hihat_open"),
    ("Hi Hat Free", "hihat_open"), ("Hi Hat Opened", "hihat_open"),
    ("Crash", "crash"), ("crash20inch--2", "crash"), ("Zildjian Splash", "crash"),
    ("China (Paiste Alpha 18\")", "crash"),
    ("Ride Jazz", "ride"), ('Ride (Custom, Zagrebin 22")', "ride"),
    ("Hand Clap", "clap"), ("d#3 - clap", "clap"),
    ("Cowbell", None), ("Pearl Side Stick", None), ("Snare Roll", None),
    ("Sabian Hat Choke", None), ("Sabian Hat Swish", None), ("Crash/Ride (Paiste 18\")", None),
    ("ride-crash20inch", None), ("Tambourine", None), ("Djembe1 Bass", None),
    ("Sample: beats_01-10.flac", None), ("d#4 - cymbal 1", None), ("", None),
])
def test_drum_label_from_instrument_names(name, label):
    assert drum_label(name) == label


def test_every_label_is_a_declared_class():
    names = ["Kick", "Snare", "Tom", "Closed HH", "Open HH", "Crash", "Ride", "Clap"]
    assert tuple(drum_label(n) for n in names) == DRUM_LABELS


def test_deal_folds_balances_whole_groups_deterministically():
    sizes = {"b": 5, "a": 5, "big": 20, "c": 3, "d": 2, "e": 2, "f": 1}
    folds = drums._deal_folds(sizes)
    # largest first, to the lightest fold; equal sizes in name order; ties go to the lowest fold
    assert folds == {"big": 1, "a": 2, "b": 3, "c": 4, "d": 5, "e": 5, "f": 4}
    assert drums._deal_folds(dict(reversed(list(sizes.items())))) == folds


# --------------------------------------------------------------------------- the built dataset

def test_labels_and_kits_come_from_the_kit_xml(built):
    counts = {}
    for row in _rows(built):
        key = (row["kit"], row["label"])
        counts[key] = counts.get(key, 0) + 1
    # Cowbell, Crash/Ride, Snare Roll, the missing, short and unreadable files, the duplicate
    # snare and the whole TR-808 kit are absent.
    assert counts == EXPECTED


def test_metadata_columns_and_files(built):
    with open(built / "metadata.csv", newline="") as f:
        assert next(csv.reader(f)) == list(METADATA_COLUMNS)
    rows = _rows(built)
    assert [r["filename"] for r in rows] == sorted(r["filename"] for r in rows)
    for row in rows:
        path = built / row["filename"]
        assert path.is_file() and not Path(row["filename"]).is_absolute()
        assert Path(row["filename"]).parts[0] == row["label"] and path.suffix == ".wav"
        assert row["source_package"] == ("fake-drumdata" if row["kit"] == "GMRockKit"
                                         else "fake-drumkits")
        assert float(row["duration"]) == pytest.approx(sf.info(path).duration, abs=1e-3)
    assert {p.name for p in built.iterdir() if p.is_dir()} <= set(DRUM_LABELS)


def test_kit_families_and_folds(built):
    rows = _rows(built)
    assert {r["kit"]: r["group"] for r in rows} == GROUP_OF_KIT
    fold_of_group = {}
    for row in rows:
        assert fold_of_group.setdefault(row["group"], row["fold"]) == row["fold"]
    # group sizes Rock Kit 8, AVL 4, Millo 2, Old Kit 2 dealt to folds 1..4
    assert fold_of_group == {"Rock Kit": "1", "AVL": "2", "Millo": "3", "Old Kit": "4"}


def test_wav_format_mono_pcm16_capped_with_fade(built):
    for row in _rows(built):
        i = sf.info(built / row["filename"])
        assert (i.format, i.subtype, i.channels, i.samplerate) == ("WAV", "PCM_16", 1, SR)
    hat = [r for r in _rows(built) if r["kit"] == "Rock Kit" and r["label"] == "hihat_open"][0]
    y, _ = sf.read(built / hat["filename"])
    assert len(y) == 4 * SR and hat["duration"] == "4.0"
    assert np.max(np.abs(y[-int(0.2 * SR):-int(0.05 * SR)])) > 0.45  # loud until the fade...
    assert np.max(np.abs(y[-5:])) < 0.01                              # ...and silent at the end
    ride = [r for r in _rows(built) if r["label"] == "ride"][0]
    y, _ = sf.read(built / ride["filename"])
    np.testing.assert_allclose(y, _burst(17, channels=2).mean(axis=1), atol=2e-4)


def test_exact_duplicates_dropped_keeping_the_first(built):
    snares = [r for r in _rows(built) if r["label"] == "snare"]
    assert sorted(r["kit"] for r in snares) == ["Millo_B", "Old Kit", "The Black Pearl 1.0"]
    with open(built / "dropped.csv", newline="") as f:
        dropped = {r["source"]: r["reason"] for r in csv.DictReader(f)}
    # "Old Kit" sorts before "Rock Kit": its FLAC is the first, the WAV with the same PCM goes.
    old_snare = [r["filename"] for r in snares if r["kit"] == "Old Kit"][0]
    assert dropped["fake-drumkits:Rock Kit/snare.wav"] == f"same audio as {old_snare}"
    assert "not found" in dropped["fake-drumkits:Rock Kit/missing.wav"]
    assert "shorter" in dropped["fake-drumkits:Rock Kit/short.wav"]
    assert "cannot decode" in dropped["fake-drumkits:Rock Kit/garbage.wav"]
    assert len(dropped) == 4


def test_licences_travel_with_the_data(built):
    text = (built / "LICENSES.txt").read_text()
    assert "TEST-LICENCE-OF-fake-drumkits" in text and "TEST-LICENCE-OF-fake-drumdata" in text


def test_same_packages_give_the_same_bytes(built, debs, tmp_path):
    again = fetch_drums(tmp_path / "drums", cache_dir=tmp_path / "cache", debs_dir=debs,
                        packages=PACKAGES, progress=False)
    assert _tree_digest(again) == _tree_digest(built)


# --------------------------------------------------------------------------- re-runs

def test_rerun_reuses_the_finished_build(built, tmp_path):
    before = _tree_digest(built)
    mtime = (built / "metadata.csv").stat().st_mtime_ns
    # A rebuild would fail: the package folder does not exist.
    assert fetch_drums(built, debs_dir=tmp_path / "nothing", cache_dir=tmp_path,
                       packages=PACKAGES, progress=False) == built
    assert (built / "metadata.csv").stat().st_mtime_ns == mtime and _tree_digest(built) == before


def test_interrupted_build_leaves_nothing_and_is_redone(debs, tmp_path, monkeypatch):
    root = tmp_path / "drums"
    calls = []
    real_load = drums.audio.load

    def load_then_interrupt(path, **kw):
        calls.append(path)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real_load(path, **kw)

    monkeypatch.setattr(drums.audio, "load", load_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        fetch_drums(root, cache_dir=tmp_path / "cache", debs_dir=debs, packages=PACKAGES,
                    progress=False)
    assert not root.exists() and list(tmp_path.glob(".drums*")) == []
    monkeypatch.setattr(drums.audio, "load", real_load)
    fetch_drums(root, cache_dir=tmp_path / "cache", debs_dir=debs, packages=PACKAGES,
                progress=False)
    assert len(_rows(root)) == sum(EXPECTED.values())


def test_abandoned_work_folder_removed_and_stale_build_replaced(debs, tmp_path):
    root = tmp_path / "drums"
    # a work folder of a process that no longer runs (pid above any pid_max)
    abandoned = tmp_path / ".drums.partial-99999999-x"
    (abandoned / "kick").mkdir(parents=True)
    # an older recipe's finished build must be rebuilt, not reused
    (root / "kick").mkdir(parents=True)
    (root / "kick" / "old.wav").write_bytes(b"old")
    (root / drums._MARKER).write_text(json.dumps({"recipe": 0, "packages": list(PACKAGES)}))
    fetch_drums(root, cache_dir=tmp_path / "cache", debs_dir=debs, packages=PACKAGES,
                progress=False)
    assert not abandoned.exists() and not (root / "kick" / "old.wav").exists()
    assert len(_rows(root)) == sum(EXPECTED.values())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "drums"]


def test_refuses_to_overwrite_a_folder_it_did_not_build(debs, tmp_path):
    root = tmp_path / "mine"
    root.mkdir()
    (root / "notes.txt").write_text("keep me")
    with pytest.raises(DatasetError, match="not empty and was not built by earmark"):
        fetch_drums(root, cache_dir=tmp_path / "cache", debs_dir=debs, packages=PACKAGES,
                    progress=False)
    assert (root / "notes.txt").read_text() == "keep me"


# --------------------------------------------------------------------------- obtaining packages

def test_missing_local_deb_is_a_clear_error(debs, tmp_path):
    (tmp_path / "debs").mkdir()
    shutil.copy(debs / "fake-drumkits_1.0-1_all.deb", tmp_path / "debs")
    with pytest.raises(DatasetError, match=r"No fake-drumdata_\*\.deb in the local package folder"):
        fetch_drums(tmp_path / "drums", cache_dir=tmp_path / "cache",
                    debs_dir=tmp_path / "debs", packages=PACKAGES, progress=False)
    assert not (tmp_path / "drums").exists()


def test_debs_dir_from_environment(debs, tmp_path, monkeypatch):
    monkeypatch.setenv("EARMARK_DEBS_DIR", str(debs))
    dpkg_deb = shutil.which("dpkg-deb")
    # no apt-get: only the local folder can work
    monkeypatch.setattr(debian.shutil, "which",
                        lambda name: dpkg_deb if name == "dpkg-deb" else None)
    root = fetch_drums(tmp_path / "drums", cache_dir=tmp_path / "cache", packages=PACKAGES,
                       progress=False)
    assert len(_rows(root)) == sum(EXPECTED.values())


def test_apt_get_failure_names_the_package_and_the_fix(tmp_path, monkeypatch):
    bin_dir = _fake_apt(tmp_path, """\
        for last; do :; done
        echo "E: Unable to locate package $last" >&2
        exit 100
        """)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(DatasetError) as info:
        fetch_drums(tmp_path / "drums", cache_dir=tmp_path / "cache", packages=PACKAGES,
                    progress=False)
    msg = str(info.value)
    assert "'fake-drumkits'" in msg and "exit status 100" in msg
    assert "E: Unable to locate package fake-drumkits" in msg
    assert "apt-get update" in msg and "EARMARK_DEBS_DIR" in msg
    assert list((tmp_path / "cache" / "debs").iterdir()) == []  # no half download left


def test_missing_apt_get_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(debian.shutil, "which", lambda name: None)
    with pytest.raises(DatasetError, match="'fake-drumkits': apt-get is not on PATH"):
        fetch_drums(tmp_path / "drums", cache_dir=tmp_path / "cache", packages=PACKAGES,
                    progress=False)


def test_apt_get_download_is_used_once_then_cached(debs, tmp_path, monkeypatch, capsys):
    log = tmp_path / "apt.log"
    bin_dir = _fake_apt(tmp_path, f"""\
        echo "$@" >> "{log}"
        for last; do :; done
        cp "{debs}/$last"_*.deb .
        """)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    root = fetch_drums(tmp_path / "drums", cache_dir=tmp_path / "cache", packages=PACKAGES,
                       progress=True)
    assert len(_rows(root)) == sum(EXPECTED.values())
    assert "drums: 16 clips" in capsys.readouterr().err  # progress goes to stderr
    sandbox = "-o APT::Sandbox::User=root " if os.geteuid() == 0 else ""
    assert log.read_text().splitlines() == [f"{sandbox}download {p}" for p in PACKAGES]
    # a new root re-uses the downloaded and unpacked packages: apt-get is not run again
    fetch_drums(tmp_path / "other", cache_dir=tmp_path / "cache", packages=PACKAGES,
                progress=False)
    assert len(log.read_text().splitlines()) == 2
    assert sorted(p.name for p in (tmp_path / "cache" / "debs").iterdir()) == sorted(
        p.name for p in debs.iterdir())


def test_packages_must_be_package_names(tmp_path):
    for bad in ("hydrogen-data", (), ("Hydrogen Data",), ("ok", 3)):
        with pytest.raises(ParameterError, match="'packages' parameter of fetch_drums"):
            fetch_drums(tmp_path, packages=bad, progress=False)


def test_no_drum_kits_in_the_packages(tmp_path):
    if shutil.which("dpkg-deb") is None:
        pytest.skip("dpkg-deb is not on PATH: cannot build the fake .deb files")
    _make_deb("empty-kits", {"Shakers": ("layer", [("Shaker", [("sh.wav", _burst(3))])])},
              tmp_path)
    with pytest.raises(DatasetError, match="empty-kits hold no usable acoustic drum samples"):
        fetch_drums(tmp_path / "drums", cache_dir=tmp_path / "cache", debs_dir=tmp_path,
                    packages=("empty-kits",), progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "empty-kits_1.0-1_all.deb"]


# --------------------------------------------------------------------------- locations

def test_earmark_home_and_default_root(tmp_path, monkeypatch, debs):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert earmark_home() == tmp_path / "home" / ".cache" / "earmark"
    monkeypatch.setenv("EARMARK_HOME", str(tmp_path / "eh"))
    assert earmark_home() == tmp_path / "eh"
    root = fetch_drums(debs_dir=debs, packages=PACKAGES, progress=False)
    assert root == tmp_path / "eh" / "datasets" / "drums"
    assert (tmp_path / "eh" / "cache" / "debian" / "extract").is_dir()


def test_old_import_paths_still_work():
    import earmark.datasets
    import earmark.examples

    assert earmark.datasets.fetch_drums is earmark.examples.fetch_drums
    assert earmark.datasets.drum_label is earmark.examples.drum_label
    assert earmark.datasets.DRUM_LABELS == DRUM_LABELS
    assert earmark.datasets.METADATA_COLUMNS == METADATA_COLUMNS
    assert earmark.datasets.earmark_home is earmark_home
