"""Ensembles: average the clip probabilities of several trained classifiers.

Different recipes make different mistakes (a CNN trained on the data and a head on BirdNET
embeddings disagree on different clips), so the mean of their clip probabilities is often better
than either. :class:`EnsembleClassifier` holds fitted :class:`~earmark.SoundClassifier` members,
each with its own front end, sample rate and analysis windows; each member scores a file its own
way (decoding, windows, aggregation) and the ensemble averages the members' *clip* probabilities.
Because the members' windows differ, an ensemble has no window-level scores: ``windows=True`` is
refused.

:func:`combine_cv_results` averages the out-of-fold probabilities of cross-validation results of
the same folds, which is exactly the cross-validation of the ensemble of those recipes (each
member is trained on the same training clips of each fold), at no extra training cost;
``--recipe auto`` uses it to score ensembles of its best candidates.

An ensemble model file holds its members' model files (their settings and arrays, arrays named
``m<i>/<name>``) in one file, with no pickle, like every earmark model file.
"""

import numpy as np
import pandas as pd

from ..bundle import write_bundle
from ..errors import ModelFileError, NotFittedError, ParameterError

__all__ = ["EnsembleClassifier", "member_seeds"]


class EnsembleClassifier:
    """Average the clip probabilities of several classifiers.

    Parameters
    ----------
    members : sequence of SoundClassifier
        Their settings (they are cloned and fitted by :meth:`fit`), or fitted classifiers with
        the same classes (use :meth:`from_fitted`).
    progress : bool
        Progress bars.

    Attributes
    ----------
    members_ : list of SoundClassifier
        The fitted members.
    classes_ : list of str
    licence_ : str or None
        The members' licences of pretrained weights, joined (e.g. BirdNET's non-commercial one).
    train_info_ : dict
        Per member: recipe and its ``train_info_``; ``auto`` when trained by ``--recipe auto``.

    Examples
    --------
    >>> from earmark import SoundClassifier
    >>> ens = EnsembleClassifier([SoundClassifier(recipe="cnn"),
    ...                           SoundClassifier(recipe="embed:birdnet+logreg")])
    >>> ens.fit("drums/").save("drums.earmark")               # doctest: +SKIP
    >>> earmark.load("drums.earmark").predict(["kick.wav"])   # doctest: +SKIP
    array(['kick'], dtype=object)
    """

    def __init__(self, members=(), *, progress=True):
        self.members = list(members)
        self.progress = progress

    def get_params(self, deep=False):
        return {"members": self.members, "progress": self.progress}

    @property
    def recipe(self):
        """'ensemble:' followed by the members' recipes joined with ','."""
        members = getattr(self, "members_", None) or self.members
        return "ensemble:" + ",".join(m.recipe for m in members)

    # -- training -----------------------------------------------------------------------------
    def fit(self, data, *, group_column="group"):
        """Fit a clone of every member on the dataset; returns self."""
        from .base import WindowEstimator

        if len(self.members) < 2:
            raise ParameterError(f"The 'members' parameter of EnsembleClassifier must hold at "
                                 f"least 2 classifiers. Got {len(self.members)} instead.")
        for m in self.members:
            if not isinstance(m, WindowEstimator):
                raise ParameterError("The 'members' parameter of EnsembleClassifier must hold "
                                     "earmark estimators (SoundClassifier, SoundTagger). Got "
                                     f"{type(m).__name__} instead.")
            if m.task != self.members[0].task:
                raise ParameterError("The 'members' parameter of EnsembleClassifier must hold "
                                     f"estimators of one task. Got {m.task!r} and "
                                     f"{self.members[0].task!r}.")
            # every member's settings (and installed models) before any training
            m.check_params()
        fitted = []
        for m in self.members:
            clf = type(m)(**{**m.get_params(), "progress": self.progress})
            fitted.append(clf.fit(data, group_column=group_column))
        return self._set_members(fitted)

    @classmethod
    def from_fitted(cls, members, *, progress=True):
        """An ensemble of classifiers that are already fitted (same classes, same order)."""
        return cls(members, progress=progress)._set_members(list(members))

    def _set_members(self, fitted):
        for m in fitted:
            m._check_fitted()
            if list(m.classes_) != list(fitted[0].classes_):
                raise ParameterError(f"ensemble members must have the same classes: "
                                     f"{fitted[0].classes_} vs {m.classes_}")
        self.members_ = fitted
        self.classes_ = list(fitted[0].classes_)
        licences = [m.licence_ for m in fitted if m.licence_]
        self.licence_ = " | ".join(dict.fromkeys(licences)) if licences else None
        self.train_info_ = {"members": [{"recipe": m.recipe, "info": m.train_info_}
                                        for m in fitted]}
        return self

    def _check_fitted(self):
        if not hasattr(self, "members_"):
            raise NotFittedError("This EnsembleClassifier is not fitted yet: call fit(data) "
                                 "first, or earmark.load(path).")

    # -- prediction ---------------------------------------------------------------------------
    def predict_proba(self, sources):
        """Mean of the members' clip probabilities (n_files, n_classes), columns ``classes_``."""
        self._check_fitted()
        return np.mean([m.predict_proba(sources) for m in self.members_], axis=0)

    @property
    def task(self):
        """The members' task ('classification' or 'tagging')."""
        members = getattr(self, "members_", None) or self.members
        return members[0].task if members else "classification"

    @property
    def thresholds_(self):
        """Tagging: the mean of the members' decision thresholds (a member's thresholds were
        tuned for its own scores; their mean is a first guess for the averaged scores).
        None for classification."""
        self._check_fitted()
        if self.task != "tagging":
            return None
        return np.mean([m.thresholds_ for m in self.members_], axis=0)

    def decide(self, scores):
        """The answers for clip scores (n, n_classes): the members' task's decision rule."""
        from ..tasks import get_task
        return get_task(self.task).decide(scores, self.classes_, thresholds=self.thresholds_)

    def predict(self, sources):
        """The answers for files, folders or CSV lists: class names (classification) or tuples
        of class names (tagging)."""
        return self.decide(self.predict_proba(sources))

    def predict_table(self, sources, *, windows=False, progress=None):
        """As :meth:`SoundClassifier.predict_table`, one row per file (no ``windows``): a file
        that any member cannot read gets a row with that member's error."""
        self._check_fitted()
        if windows:
            raise ParameterError(f"{self.recipe}: an ensemble scores whole files (its members "
                                 "use different analysis windows); predict without --windows, "
                                 "or train a single recipe for window scores")
        tables = [m.predict_table(sources, progress=self.progress if progress is None
                                  else progress) for m in self.members_]
        out = tables[0].copy()
        probs = np.mean([t[self.classes_].to_numpy(dtype=float) for t in tables], axis=0)
        out[self.classes_] = probs
        errors = pd.concat([t["error"] for t in tables], axis=1)
        out["error"] = errors.bfill(axis=1).iloc[:, 0]
        failed = out["error"].notna()
        out.loc[failed, self.classes_] = np.nan
        answer = "label" if self.task == "classification" else "labels"
        labels = self.decide(np.nan_to_num(probs))
        if answer == "labels":
            labels = [";".join(t) for t in labels]
        out[answer] = pd.Series([None if f else lab for f, lab in zip(failed, labels)],
                                index=out.index, dtype=object)
        return out

    # -- persistence --------------------------------------------------------------------------
    def save(self, path):
        """Write the fitted ensemble to one model file; returns the path."""
        self._check_fitted()
        members, arrays = [], {}
        for i, m in enumerate(self.members_):
            meta, arr = m._bundle_state()
            members.append(meta)
            arrays.update({f"m{i}/{k}": v for k, v in arr.items()})
        meta = {"kind": "ensemble", "labels": list(self.classes_), "members": members,
                "training": {"info": self.train_info_}}
        if self.licence_ is not None:
            meta["licence"] = self.licence_
        return write_bundle(path, meta=meta, arrays=arrays)

    @classmethod
    def _from_bundle(cls, meta, arrays, *, path=""):
        from .persistence import _kinds

        members = meta.get("members")
        if meta.get("kind") != "ensemble" or not isinstance(members, list) or len(members) < 2:
            raise ModelFileError(f"{path}: not an earmark ensemble model file")
        fitted = []
        for i, m in enumerate(members):
            prefix = f"m{i}/"
            own = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
            cls_ = _kinds().get(m.get("kind"))
            if cls_ is None or cls_ is cls:
                raise ModelFileError(f"{path}: ensemble member {i} has kind {m.get('kind')!r}")
            fitted.append(cls_._from_bundle(m, own, path=f"{path} (member {i})"))
        ens = cls(fitted, progress=False)._set_members(fitted)
        ens.train_info_ = meta.get("training", {}).get("info", ens.train_info_)
        ens.metadata_ = {k: meta.get(k) for k in ("versions", "saved_at", "format_version")}
        return ens


def member_seeds(recipes, seed):
    """The seed of each member of ``ensemble:A,B,...``: a recipe named again gets the next seed.

    Examples
    --------
    >>> member_seeds(["cnn", "embed:yamnet+logreg", "cnn"], 0)
    [0, 0, 1]
    """
    return [seed + recipes[:i].count(r) for i, r in enumerate(recipes)]
