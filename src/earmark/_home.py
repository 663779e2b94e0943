"""Where earmark keeps what it downloads, installs, builds and caches: one rule, one place.

Everything lives under :func:`earmark_home` (``$EARMARK_HOME``, else ``~/.cache/earmark``):
``models/`` (installed pretrained models), ``datasets/`` (built example data) and ``cache/``
(downloaded packages, precomputed augmentations and embeddings). This module imports nothing
from earmark, so any module can use it.
"""

import os
from pathlib import Path

__all__ = ["HOME_VARIABLE", "earmark_home"]

#: The environment variable that moves earmark's data folder.
HOME_VARIABLE = "EARMARK_HOME"


def earmark_home():
    """The folder where earmark keeps downloaded and built data.

    ``$EARMARK_HOME`` if it is set, else ``~/.cache/earmark``. The folder is not created.

    Examples
    --------
    >>> from earmark._home import earmark_home
    >>> earmark_home() / "models"  # doctest: +SKIP
    PosixPath('/home/me/.cache/earmark/models')
    """
    home = os.environ.get(HOME_VARIABLE)
    if home:
        return Path(home).expanduser()
    return Path.home() / ".cache" / "earmark"
