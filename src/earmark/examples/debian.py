"""Debian packages as a source of example data: download a ``.deb`` and unpack it, nothing more.

1. ``apt-get download <package>`` fetches the ``.deb`` file into a cache folder (works without
   root, with the apt package lists already on the machine); a folder of already-downloaded
   ``.deb`` files can be used instead (``debs_dir``).
2. ``dpkg-deb -x`` unpacks it into the cache. Nothing is installed.

Nothing is downloaded from anywhere but the Debian archive the machine already uses.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

from ..errors import DatasetError, ParameterError
from ._folders import work_dir

__all__ = ["check_packages", "obtain_deb", "unpack"]

_PACKAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")


def check_packages(packages, *, caller):
    """``packages`` as a tuple, or ParameterError naming ``caller`` (the public function)."""
    if isinstance(packages, str) or not packages or not all(
            isinstance(p, str) and _PACKAGE_NAME.match(p) for p in packages):
        raise ParameterError(
            f"The 'packages' parameter of {caller} must be a non-empty tuple of Debian package "
            f"names (lower case letters, digits, '+', '-', '.'). Got {packages!r} instead.")
    return tuple(packages)


def _is_root():
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _find_deb(folder, package):
    # "<package>_<version>_<arch>.deb" is how apt-get download names files; with several
    # versions the name that sorts last is used.
    found = sorted(Path(folder).glob(f"{package}_*.deb"))
    return found[-1] if found else None


def _how_to_get(package):
    return (f"or download {package}_*.deb yourself (https://packages.debian.org/{package}) into "
            "a folder and pass debs_dir=<folder> or set EARMARK_DEBS_DIR=<folder>")


def _apt_download(package, debs, progress):
    """``apt-get download <package>`` into ``debs``; returns the .deb path."""
    apt = shutil.which("apt-get")
    if apt is None:
        raise DatasetError(
            f"Cannot download the Debian package {package!r}: apt-get is not on PATH (earmark's "
            f"example data is built from Debian/Ubuntu packages). "
            f"{_how_to_get(package).capitalize()}.")
    cmd = [apt, "download", package]
    if _is_root():
        # As root apt drops to the '_apt' user, which may not be allowed to write here.
        cmd[1:1] = ["-o", "APT::Sandbox::User=root"]
    # A fresh folder per download, so an interrupted download never looks like a finished .deb.
    work = work_dir(debs, ".download-")
    try:
        proc = subprocess.run(cmd, cwd=work, stdout=None if progress else subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
        got = _find_deb(work, package)
        if proc.returncode != 0 or got is None:
            why = " ".join(proc.stderr.strip().splitlines()[-3:]) or "no .deb file was written"
            raise DatasetError(
                f"Cannot download the Debian package {package!r}: `{' '.join(cmd[1:])}` failed "
                f"(exit status {proc.returncode}): {why}. If the package lists are missing or "
                "stale, run `sudo apt-get update` (on Ubuntu the package is in 'universe'); "
                f"{_how_to_get(package)}.")
        final = debs / got.name
        os.replace(got, final)
        return final
    finally:
        shutil.rmtree(work, ignore_errors=True)


def obtain_deb(package, cache, debs_dir, progress):
    """The ``.deb`` of ``package``: from ``debs_dir`` if given, else ``<cache>/debs`` (downloaded
    there with apt-get the first time)."""
    if debs_dir is not None:
        deb = _find_deb(debs_dir, package)
        if deb is None:
            raise DatasetError(
                f"No {package}_*.deb in the local package folder {str(debs_dir)!r} (from "
                f"debs_dir or $EARMARK_DEBS_DIR). Put the file there (`apt-get download "
                f"{package}`), or leave debs_dir unset to download it with apt-get.")
        return deb
    debs = cache / "debs"
    return _find_deb(debs, package) or _apt_download(package, debs, progress)


def unpack(deb, cache):
    """``dpkg-deb -x`` the package into ``<cache>/extract/<deb name>``, once; returns that
    folder."""
    extract = cache / "extract"
    tree = extract / deb.name[:-len(".deb")]
    if tree.is_dir():
        return tree
    dpkg_deb = shutil.which("dpkg-deb")
    if dpkg_deb is None:
        raise DatasetError(
            f"Cannot unpack {str(deb)!r}: dpkg-deb is not on PATH. Install the 'dpkg' package "
            "(it is part of every Debian/Ubuntu system).")
    work = work_dir(extract, ".unpack-")
    try:
        proc = subprocess.run([dpkg_deb, "-x", str(deb), str(work)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            raise DatasetError(
                f"Cannot unpack {str(deb)!r} with dpkg-deb (exit status {proc.returncode}): "
                f"{proc.stderr.strip()}. The file may be damaged: delete it and run again.")
        os.replace(work, tree)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return tree
