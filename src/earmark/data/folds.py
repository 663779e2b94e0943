"""Splits that keep groups together: cross-validation folds and validation carve-outs."""

import numpy as np

from ..errors import DatasetError, ParameterError

__all__ = ["cv_splits", "validation_split"]


def cv_splits(dataset, *, folds=None, groups=None, n_splits=5, seed=0):
    """Cross-validation splits as a list of ``(fold_name, train_index, test_index)``.

    Parameters
    ----------
    folds : str or None
        Column of predefined folds: each distinct value is one test fold, however many there are.
    groups : str or None
        Column of groups for grouped k-fold (stratified by label where possible): a group is never
        in two folds.
    n_splits : int
        Number of folds with ``groups``.

    Examples
    --------
    >>> splits = cv_splits(ds, folds="fold")     # doctest: +SKIP
    """
    if (folds is None) == (groups is None):
        raise ParameterError("cv_splits: give exactly one of folds=COLUMN (predefined folds) or "
                             "groups=COLUMN (grouped k-fold).")
    n = len(dataset)
    if folds is not None:
        values = dataset.column(folds)
        names = sorted(set(values), key=_natural)
        if len(names) < 2:
            raise DatasetError(f"{dataset.source}: column {folds!r} has a single value "
                               f"({names[0]!r}); cross-validation needs at least 2 folds")
        return [(name, np.flatnonzero(values != name), np.flatnonzero(values == name))
                for name in names]
    from sklearn.model_selection import GroupKFold, StratifiedGroupKFold  # slow import: lazy

    g = dataset.column(groups)
    n_groups = len(set(g))
    if n_groups < n_splits:
        raise DatasetError(f"{dataset.source}: column {groups!r} has {n_groups} distinct groups, "
                           f"fewer than n_splits={n_splits}")
    y = dataset.table["label"].to_numpy()
    try:
        splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        splits = list(splitter.split(np.zeros(n), y, g))
    except ValueError:
        splits = list(GroupKFold(n_splits=n_splits).split(np.zeros(n), y, g))
    return [(str(i + 1), tr, te) for i, (tr, te) in enumerate(splits)]


def validation_split(labels, groups, *, fraction=0.15, seed=0):
    """Carve a validation set out of training clips by group.

    Whole groups go to validation until about ``fraction`` of the clips are there, preferring
    groups that keep every class represented in training. Without groups (None), each clip is its
    own group. Returns ``(train_index, val_index)``; val is empty when fewer than 2 groups exist.
    ``labels`` may be multi-hot targets (n, n_classes): then no tag loses its last training clip.
    """
    labels = np.asarray(labels)
    if labels.ndim == 1:        # class labels: one-hot, so one rule serves both
        _, index = np.unique(labels, return_inverse=True)
        labels = np.eye(index.max() + 1 if len(index) else 0)[index]
    n = len(labels)
    groups = np.arange(n).astype(str) if groups is None else np.asarray(groups).astype(str)
    uniq = np.unique(groups)
    if len(uniq) < 2 or fraction <= 0:
        return np.arange(n), np.zeros(0, dtype=np.int64)
    order = np.random.default_rng(seed).permutation(uniq)
    target = max(1, int(round(fraction * n)))
    left = labels.sum(axis=0)           # training clips of each class (tag) still left
    val = np.zeros(n, bool)
    taken = 0
    for gname in order:
        members = groups == gname
        if taken + members.sum() > 1.5 * target and taken > 0:
            continue
        # never take the last training clips of a class
        k = labels[members].sum(axis=0)
        if np.any((k > 0) & (left - k < 1)):
            continue
        left = left - k
        val |= members
        taken += int(members.sum())
        if taken >= target:
            break
    if val.all() or not val.any():
        return np.arange(n), np.zeros(0, dtype=np.int64)
    return np.flatnonzero(~val), np.flatnonzero(val)


def _natural(s):
    """Sort '2' before '10'."""
    return (0, int(s), "") if str(s).isdigit() else (1, 0, str(s))
