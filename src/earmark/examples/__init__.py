"""Real example data for earmark, built on the user's machine from Debian packages.

    fetch_drums      the drum one-shot dataset (8 classes, kit families as groups, 5 folds)
    drum_label       a Hydrogen instrument name → one of DRUM_LABELS, or None
    DRUM_LABELS      the classes of fetch_drums
    METADATA_COLUMNS the columns of the metadata.csv the fetchers write

Modules: :mod:`~earmark.examples.drums` (the drum dataset), :mod:`~earmark.examples.hydrogen`
(reading Hydrogen drum kits), :mod:`~earmark.examples.debian` (downloading and unpacking
``.deb`` files). Everything is kept under ``earmark_home()`` (``$EARMARK_HOME``).

Examples
--------
>>> from earmark.examples import fetch_drums
>>> root = fetch_drums()  # doctest: +SKIP
"""

from .drums import DRUM_LABELS, METADATA_COLUMNS, drum_label, fetch_drums

__all__ = ["DRUM_LABELS", "METADATA_COLUMNS", "fetch_drums", "drum_label"]
