"""Loading any earmark model file: :func:`load` dispatches on the file's ``kind``."""

from ..bundle import read_bundle
from ..errors import ModelFileError

__all__ = ["load", "ESTIMATOR_KINDS"]


def _kinds():
    from .classifier import SoundClassifier
    from .ensemble import EnsembleClassifier
    from .tagger import SoundTagger
    return {"classifier": SoundClassifier, "tagger": SoundTagger, "ensemble": EnsembleClassifier}


#: The model file kinds :func:`load` knows (``kind`` in ``earmark.json``).
ESTIMATOR_KINDS = ("classifier", "tagger", "ensemble")


def load(path):
    """Load any earmark model file: a classifier, a tagger or an ensemble, as the estimator
    that wrote it. Never executes pickled code.

    Raises
    ------
    ModelFileError
        Not a model file, damaged, another format version, or a kind this earmark does not
        know (the message names the file).

    Examples
    --------
    >>> clf = earmark.load("drums.earmark")      # doctest: +SKIP
    >>> clf.predict(["kick.wav"])                # doctest: +SKIP
    array(['kick'], dtype=object)
    """
    meta, arrays = read_bundle(path)
    kind = meta.get("kind", "classifier")
    cls = _kinds().get(kind)
    if cls is None:
        raise ModelFileError(f"{path}: holds a model of kind {kind!r}, which this earmark does "
                             f"not know (known: {', '.join(ESTIMATOR_KINDS)}); upgrade earmark")
    return cls._from_bundle(meta, arrays, path=str(path))
