"""The drum one-shot example dataset, built on the user's machine from Debian packages.

:func:`fetch_drums` builds a small, real drum one-shot dataset (kick, snare, tom, closed and open
hi-hat, crash, ride, clap) that ``make demo`` trains on. Nothing is downloaded from anywhere but
the Debian archive the machine already uses, and nothing is installed:

1. ``apt-get download hydrogen-drumkits hydrogen-data`` fetches the ``.deb`` files into a cache
   folder (works without root, with the apt package lists already on the machine); a folder of
   already-downloaded ``.deb`` files can be used instead (``debs_dir=`` or ``$EARMARK_DEBS_DIR``).
2. ``dpkg-deb -x`` unpacks them into the cache (:mod:`earmark.examples.debian`).
3. Each Hydrogen kit's ``drumkit.xml`` names its instruments ("Kick", "Hat Pedal", "Ride Jazz";
   :mod:`earmark.examples.hydrogen`); those names decide the label (:func:`drum_label`), and
   every velocity layer of a labelled instrument becomes a clip.

Where the audio comes from, and its licences
--------------------------------------------
The clips are the drum samples of the Hydrogen drum machine kits packaged in Debian main
(``hydrogen-drumkits``, ``hydrogen-data``), decoded, mixed to mono, capped at 4 s and written as
16-bit WAV. Each clip keeps the licence of the kit it comes from, as stated in its Debian
package's ``/usr/share/doc/<package>/copyright`` (GPL-2 or GPL-2+ for most kits; CC-BY-3.0,
CC-BY-SA-3.0 or CC0 for some). Those copyright files are copied into the built dataset as
``LICENSES.txt``, and ``metadata.csv`` names the package and kit of every clip. CC-BY kits
require attribution and GPL/CC-BY-SA kits require their licence to travel with the audio: do not
redistribute the built dataset (or parts of it) carelessly; keep ``LICENSES.txt`` and
``metadata.csv`` with any copy, or rebuild it from the packages on the other side.

Why the dataset looks the way it does
-------------------------------------
- Electronic and drum-machine kits (TR-808 emulation, ElectricEmpireKit, HardElectro1,
  VariBreaks) are skipped: synthesised one-shots are a different task from recorded drums.
- Instruments whose names are ambiguous ("Crash/Ride"), or are articulations rather than strokes
  (side stick, rolls, flams, chokes, swishes), or are other percussion (cowbell, shaker) are skipped.
- ``group`` is the kit *family*: kits that share recordings must never be split between training
  and test folds. The AVL kits by Glen MacArthur ('The Black Pearl 1.0', 'GMRockKit', 'Gimme A
  Hand 1.0') reuse the same recordings, and the three Millo kits are versions of one kit.
- ``fold`` (1..5) deals whole groups to folds, largest first, each to the fold with the fewest
  clips so far: a kit never appears in two folds, and the assignment is the same on every machine.
- Clips with exactly the same 16-bit samples are stored once (the first one met, in package,
  kit and XML order); ``dropped.csv`` lists every file left out and why.
"""

import csv
import hashlib
import json
import os
import re
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from .. import audio
from .._home import earmark_home
from ..errors import AudioError, DatasetError
from . import debian, hydrogen
from ._folders import publish, work_dir

__all__ = ["DRUM_LABELS", "METADATA_COLUMNS", "fetch_drums", "drum_label"]

#: The eight classes of :func:`fetch_drums`.
DRUM_LABELS = ("kick", "snare", "tom", "hihat_closed", "hihat_open", "crash", "ride", "clap")

#: Columns of the ``metadata.csv`` written by the fetchers, in order.
METADATA_COLUMNS = ("filename", "label", "fold", "group", "kit", "source_package", "duration")

N_FOLDS = 5
MAX_CLIP_S = 4.0
FADE_S = 0.03        # long enough to avoid a click at the cut, short next to a 4 s clip
MIN_CLIP_S = 0.02    # shorter files in the kits are placeholders, not strokes

ELECTRONIC_KITS = frozenset({"TR808EmulationKit", "ElectricEmpireKit", "HardElectro1",
                             "VariBreaks"})
# Kits that share recordings (or are versions of one kit) form one group, so no fold can test on
# audio it was trained on.
AVL_KITS = frozenset({"The Black Pearl 1.0", "GMRockKit", "Gimme A Hand 1.0"})

# Bump when the recipe changes what a build contains; older builds are then rebuilt.
_RECIPE_VERSION = 1
_MARKER = ".earmark-dataset.json"


# --------------------------------------------------------------------------- labels from names

_SKIP = re.compile(r"choke|swish|roll|flam|stick|sample:|bell tree|cow ?bell")
_HAT = re.compile(r"hat|\bhh\b|cymbal (closed|open|pedal)")
_HAT_CLOSED = re.compile(r"clos|pedal|foot|\bcl\b|\bpd\b|\bped\b|\bcl\d")
_HAT_OPEN = re.compile(r"open|semi|\bop\b|half|free")
_KICK = re.compile(r"kick|bass ?drum|\bbd\b|drum bass")
_TOM_LOOKALIKE = re.compile(r"bottom|custom|atom|tomb")
_CRASH = re.compile(r"crash|crsh|splash|china")


def drum_label(name):
    """Map a drum kit instrument name to one of :data:`DRUM_LABELS`, or None to skip it.

    A name that fits no class, or fits more than one ("Crash/Ride"), gives None, as do
    articulations that are not plain strokes (side stick, roll, flam, choke, swish) and other
    percussion (cowbell).

    Examples
    --------
    >>> from earmark.examples import drum_label
    >>> drum_label("Kick (Tama Superstar 22\\")"), drum_label("Hat Pedal"), drum_label("Cowbell")
    ('kick', 'hihat_closed', None)
    """
    # Split camel case first ("BassDrum", "HiHatOpen") so word boundaries work.
    s = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name)
    s = s.lower().replace("-", " ").replace("_", " ")
    if _SKIP.search(s):
        return None
    found = set()
    if _KICK.search(s):
        found.add("kick")
    if "snare" in s:
        found.add("snare")
    if "tom" in s and not _TOM_LOOKALIKE.search(s):
        found.add("tom")
    if _HAT.search(s):
        # Pedal and foot strokes close the hat; a hat that is neither closed nor open is unknown.
        if _HAT_CLOSED.search(s):
            found.add("hihat_closed")
        elif _HAT_OPEN.search(s):
            found.add("hihat_open")
    elif _CRASH.search(s):
        found.add("crash")
    if "ride" in s:
        found.add("ride")
    if "clap" in s:
        found.add("clap")
    return found.pop() if len(found) == 1 else None


def _kit_group(kit):
    if kit in AVL_KITS:
        return "AVL"
    if kit.startswith("Millo"):
        return "Millo"
    return kit


# --------------------------------------------------------------------------- building

def _finish(y, sr):
    """Cap at MAX_CLIP_S with a short linear fade-out; scale down only if it would clip."""
    n_max = int(MAX_CLIP_S * sr)
    if len(y) > n_max:
        y = y[:n_max].copy()
        n_fade = min(n_max, int(FADE_S * sr))
        y[-n_fade:] *= np.linspace(1.0, 0.0, n_fade, dtype=np.float32)
    peak = float(np.max(np.abs(y)))
    if peak > 1.0:
        y = y / peak
    return np.clip(np.round(y * 32767.0), -32768, 32767).astype(np.int16)


def _slug(text, max_len=48):
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")[:max_len] or "x"


def _deal_folds(group_sizes, n_folds=N_FOLDS):
    """Deal whole groups to folds 1..n_folds, balancing clip counts.

    Largest group first (name breaks ties), each to the fold with the fewest clips so far
    (lowest fold number breaks ties): the same sizes always give the same folds.
    """
    load = [0] * n_folds
    folds = {}
    for group, size in sorted(group_sizes.items(), key=lambda item: (-item[1], item[0])):
        fold = min(range(n_folds), key=lambda i: (load[i], i))
        folds[group] = fold + 1
        load[fold] += size
    return folds


def _labelled_samples(xml_path):
    """(instrument name, label, sample path) of every labelled sample of one kit, in XML order."""
    out = []
    for name, path in hydrogen.kit_samples(xml_path):
        label = drum_label(name)
        if label is not None:
            out.append((name, label, path))
    return out


def _build(trees, out, progress):
    """Write the clips of every kit in ``trees`` ({package: unpacked folder}) into ``out``.

    Returns (rows, dropped): metadata rows without folds, and (source, reason) pairs.
    """
    plan, dropped = [], []
    for package, tree in trees.items():
        for xml_path in hydrogen.kits_in(tree):
            kit = xml_path.parent.name
            if kit in ELECTRONIC_KITS:
                continue
            try:
                samples = _labelled_samples(xml_path)
            except ET.ParseError as exc:
                dropped.append((f"{package}:{kit}/drumkit.xml", f"unreadable XML ({exc})"))
                continue
            plan.extend((package, kit, name, label, path) for name, label, path in samples)

    rows, first_of = [], {}
    for package, kit, name, label, path in tqdm(plan, desc="drums: clips", unit="clip",
                                                disable=not progress):
        source = f"{package}:{kit}/{path.name}"
        try:
            y, sr = audio.load(path)
        except AudioError as exc:
            # Without the cache path, so that dropped.csv is the same on every machine.
            dropped.append((source, exc.problem.replace(str(path), path.name)))
            continue
        if len(y) < MIN_CLIP_S * sr:
            dropped.append((source, f"shorter than {MIN_CLIP_S} s"))
            continue
        pcm = _finish(y, sr)
        digest = hashlib.sha1(f"{sr}:".encode() + pcm.tobytes()).hexdigest()
        if digest in first_of:
            dropped.append((source, f"same audio as {first_of[digest]}"))
            continue
        stem = f"{label}/{_slug(kit)}__{_slug(name)}__{_slug(path.stem)}"
        filename, i = f"{stem}.wav", 1
        while (out / filename).exists():
            i += 1
            filename = f"{stem}_{i}.wav"
        (out / label).mkdir(exist_ok=True)
        sf.write(out / filename, pcm, sr, subtype="PCM_16")
        first_of[digest] = filename
        rows.append({"filename": filename, "label": label, "group": _kit_group(kit), "kit": kit,
                     "source_package": package, "duration": round(len(pcm) / sr, 3)})
    return rows, dropped


def _write_outputs(out, rows, dropped, trees, packages):
    sizes = {}
    for row in rows:
        sizes[row["group"]] = sizes.get(row["group"], 0) + 1
    folds = _deal_folds(sizes)
    for row in rows:
        row["fold"] = folds[row["group"]]
    rows.sort(key=lambda r: r["filename"])
    with open(out / "metadata.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=METADATA_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    with open(out / "dropped.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["source", "reason"])
        writer.writerows(dropped)
    with open(out / "LICENSES.txt", "w", encoding="utf-8") as f:
        f.write("Each clip keeps the licence of the Debian package (and kit) it comes from; "
                "metadata.csv names both.\nDo not redistribute these clips without this file.\n")
        for package, tree in trees.items():
            copyright_file = tree / "usr/share/doc" / package / "copyright"
            text = (copyright_file.read_text(encoding="utf-8", errors="replace")
                    if copyright_file.is_file() else "(the package has no copyright file)\n")
            f.write(f"\n{'=' * 78}\n{package}: /usr/share/doc/{package}/copyright\n{'=' * 78}\n")
            f.write(text)
    marker = {"dataset": "drums", "recipe": _RECIPE_VERSION, "packages": list(packages),
              "clips": len(rows), "n_folds": N_FOLDS}
    (out / _MARKER).write_text(json.dumps(marker, indent=1) + "\n", encoding="utf-8")


def _is_complete(root, packages):
    try:
        marker = json.loads((root / _MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (marker.get("recipe") == _RECIPE_VERSION and marker.get("packages") == list(packages)
            and (root / "metadata.csv").is_file())


def fetch_drums(root=None, *, cache_dir=None, debs_dir=None,
                packages=("hydrogen-drumkits", "hydrogen-data"), progress=True):
    """Build (once) the drum one-shot example dataset and return its folder.

    The folder holds ``<label>/<file>.wav`` (mono, 16-bit PCM, at most 4 s, the kit's sample
    rate), ``metadata.csv`` with the columns ``filename,label,fold,group,kit,source_package,
    duration`` (``filename`` relative to the folder; ``group`` is the kit family; ``fold`` is
    1..5), ``dropped.csv`` (files left out, and why) and ``LICENSES.txt``. See the module
    docstring for where the audio comes from and its licences.

    A finished build is reused at once. The build is written to a work folder beside ``root``
    and renamed into place only when complete, so an interrupted build is redone, never reused.

    Parameters
    ----------
    root : str or path-like or None
        Where the dataset goes. None means ``earmark_home()/datasets/drums``
        (``$EARMARK_HOME/datasets/drums``, else ``~/.cache/earmark/datasets/drums``).
    cache_dir : str or path-like or None
        Where downloaded ``.deb`` files (``debs/``) and their unpacked trees (``extract/``) are
        kept (about 380 MB for the default packages; safe to delete once the dataset is built).
        None means ``earmark_home()/cache/debian``.
    debs_dir : str or path-like or None
        A folder of already-downloaded ``<package>_<version>_<arch>.deb`` files to use instead
        of ``apt-get download`` (for machines without apt or without access to the archive).
        None means ``$EARMARK_DEBS_DIR`` if set, else download with apt-get.
    packages : tuple of str
        Debian packages whose Hydrogen kits (``/usr/share/hydrogen/data/drumkits/*``) are used.
    progress : bool
        Show progress bars (tqdm, on stderr) and apt-get's output.

    Returns
    -------
    pathlib.Path
        The dataset folder.

    Raises
    ------
    DatasetError
        A package cannot be downloaded or unpacked (the message says what to do), the packages
        hold no usable drum kit, or ``root`` is a non-empty folder this function did not build.
    ParameterError
        ``packages`` is not a tuple of Debian package names.

    Examples
    --------
    >>> import pandas as pd
    >>> from earmark.examples import fetch_drums
    >>> root = fetch_drums()  # doctest: +SKIP
    >>> meta = pd.read_csv(root / "metadata.csv")  # doctest: +SKIP
    >>> sorted(meta.label.unique())  # doctest: +SKIP
    ['clap', 'crash', 'hihat_closed', 'hihat_open', 'kick', 'ride', 'snare', 'tom']
    """
    packages = debian.check_packages(packages, caller="fetch_drums")
    root = Path(root).expanduser() if root is not None else earmark_home() / "datasets" / "drums"
    root = root.absolute()
    if _is_complete(root, packages):
        return root
    if root.is_dir() and any(root.iterdir()) and not (root / _MARKER).is_file():
        raise DatasetError(
            f"Refusing to build the drum dataset in {str(root)!r}: the folder is not empty and "
            "was not built by earmark. Pass another root, or empty the folder.")
    if root.exists() and not root.is_dir():
        raise DatasetError(f"Cannot build the drum dataset at {str(root)!r}: it is a file.")

    cache = (Path(cache_dir).expanduser() if cache_dir is not None
             else earmark_home() / "cache" / "debian").absolute()
    if debs_dir is None and os.environ.get("EARMARK_DEBS_DIR"):
        debs_dir = os.environ["EARMARK_DEBS_DIR"]
    debs_dir = Path(debs_dir).expanduser() if debs_dir is not None else None

    trees = {}
    for package in tqdm(packages, desc="drums: packages", unit="pkg", disable=not progress):
        trees[package] = debian.unpack(debian.obtain_deb(package, cache, debs_dir, progress),
                                       cache)

    work = work_dir(root.parent, f".{root.name}.partial-")
    try:
        rows, dropped = _build(trees, work, progress)
        if not rows:
            raise DatasetError(
                f"The packages {', '.join(packages)} hold no usable acoustic drum samples (looked "
                f"for {hydrogen.DRUMKITS_DIR}/*/drumkit.xml with instruments named like "
                f"{', '.join(DRUM_LABELS)}).")
        _write_outputs(work, rows, dropped, trees, packages)
        try:
            publish(work, root)
        except OSError:
            # Another process finished the same build first: its result is as good as ours.
            if not _is_complete(root, packages):
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if progress:
        n_dup = sum(reason.startswith("same audio") for _, reason in dropped)
        tqdm.write(f"drums: {len(rows)} clips, {len({r['label'] for r in rows})} classes, "
                   f"{len({r['group'] for r in rows})} kit families in {N_FOLDS} folds, "
                   f"{n_dup} exact duplicates dropped -> {root}", file=sys.stderr)
    return root
