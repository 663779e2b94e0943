"""Loading any earmark model file: :func:`load` dispatches on the file's ``kind``.

A model file is untrusted input (people download and share them): :func:`load` reads it with
the size budget of :func:`earmark.bundle.read_bundle`, checks every field and array against the
model's kind and config before any array is decompressed (:mod:`earmark._schema`), and turns
anything the estimator's loader still trips on into a :class:`~earmark.errors.ModelFileError`.
"""

import importlib
import os

from .._schema import check_array_values, check_model_file
from ..bundle import read_bundle
from ..errors import EarmarkError, ModelFileError

__all__ = ["load", "ESTIMATOR_KINDS"]

#: kind (``kind`` in ``earmark.json``) -> (module, class) of the estimator that reads it; a new
#: kind is one more line here.
_KIND_CLASSES = {
    "classifier": (".classifier", "SoundClassifier"),
    "tagger": (".tagger", "SoundTagger"),
    "ensemble": (".ensemble", "EnsembleClassifier"),
    "detector": (".detector", "SoundDetector"),
    "novelty": (".novelty", "NoveltyDetector"),
}

#: The model file kinds :func:`load` knows (``kind`` in ``earmark.json``).
ESTIMATOR_KINDS = tuple(_KIND_CLASSES)


def _kinds():
    return {kind: getattr(importlib.import_module(module, __package__), name)
            for kind, (module, name) in _KIND_CLASSES.items()}


def _unknown_kind(path, kind):
    return ModelFileError(f"{path}: holds a model of kind {kind!r}, which this earmark does not "
                          f"know (known: {', '.join(ESTIMATOR_KINDS)}); upgrade earmark")


def load(path):
    """Load any earmark model file: a classifier, a tagger, a detector or an ensemble, as the
    estimator that wrote it. Never executes pickled code.

    Raises
    ------
    ModelFileError
        Not a model file, damaged (any field or array), beyond the size budget, another format
        version, or a kind this earmark does not know. The message names the file (and the
        field or array). No other exception escapes for a bad file.

    Examples
    --------
    >>> clf = earmark.load("drums.earmark")      # doctest: +SKIP
    >>> clf.predict(["kick.wav"])                # doctest: +SKIP
    array(['kick'], dtype=object)
    """
    path = os.fspath(path)
    kinds = _kinds()
    # the task each kind's estimator has (an ensemble's depends on its members)
    tasks = {kind: task if isinstance(task := getattr(cls, "task", None), str) else None
             for kind, cls in kinds.items()}

    def expect(meta, specs):
        kind = meta.get("kind", "classifier")
        if not isinstance(kind, str) or kind not in kinds:
            raise _unknown_kind(path, kind)
        # a kind whose model is not a window estimator's checks its own file
        getattr(kinds[kind], "_check_model_file", check_model_file)(meta, specs, path=path,
                                                                     kinds=tasks)

    meta, arrays = read_bundle(path, expect=expect)
    check_array_values(meta, arrays, path=path)
    cls = kinds[meta.get("kind", "classifier")]
    try:
        return cls._from_bundle(meta, arrays, path=path)
    except EarmarkError:
        raise
    except Exception as exc:  # what the checks above did not foresee is still the file's fault
        raise ModelFileError(f"{path}: damaged model file ({type(exc).__name__}: {exc})") \
            from None
