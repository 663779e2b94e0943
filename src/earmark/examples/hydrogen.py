"""Hydrogen drum kits as unpacked from a Debian package: which kits, and the samples of each.

Each kit is a folder with a ``drumkit.xml`` that names its instruments ("Kick", "Hat Pedal",
"Ride Jazz") and the sample files of their velocity layers.
"""

import xml.etree.ElementTree as ET
from pathlib import Path

__all__ = ["DRUMKITS_DIR", "kits_in", "kit_samples"]

#: Where a Hydrogen package puts its kits, relative to the unpacked package.
DRUMKITS_DIR = "usr/share/hydrogen/data/drumkits"


def kits_in(tree):
    """The ``drumkit.xml`` of every kit in an unpacked package, sorted by path."""
    return sorted((Path(tree) / DRUMKITS_DIR).glob("*/drumkit.xml"))


def _local(tag):
    """Tag name without its XML namespace: kits exist with and without Hydrogen's namespace."""
    return tag.rsplit("}", 1)[-1]


def _child_text(elem, name):
    for child in elem:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return ""


def kit_samples(xml_path):
    """(instrument name, sample path) of every sample of one kit, in XML order.

    Hydrogen >= 0.9.7 nests layers in <instrumentComponent>, 0.9.x puts them in <instrument>,
    and older kits have a single <filename> per instrument; all three are read. Raises
    ``xml.etree.ElementTree.ParseError`` for unreadable XML.
    """
    kit_dir = Path(xml_path).parent
    root = ET.parse(xml_path).getroot()
    out = []
    for inst in root.iter():
        if _local(inst.tag) != "instrument":
            continue
        name = _child_text(inst, "name")
        files = [_child_text(layer, "filename") for layer in inst.iter()
                 if _local(layer.tag) == "layer"]
        if not files:
            files = [_child_text(inst, "filename")]
        for fn in files:
            if fn:
                # Some kits store absolute paths of the author's machine: keep the file name.
                path = kit_dir / fn
                out.append((name, path if path.exists() else kit_dir / Path(fn).name))
    return out
