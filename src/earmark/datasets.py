"""Compatibility shim: the example data moved to :mod:`earmark.examples`, and
``earmark_home`` to :mod:`earmark._home`.

New code imports ``from earmark.examples import fetch_drums, drum_label`` and
``from earmark._home import earmark_home``; the names below keep older imports working.
"""

from ._home import earmark_home
from .examples import DRUM_LABELS, METADATA_COLUMNS, drum_label, fetch_drums

__all__ = ["DRUM_LABELS", "METADATA_COLUMNS", "earmark_home", "fetch_drums", "drum_label"]
