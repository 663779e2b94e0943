"""``--recipe auto``: try the recipes with grouped cross-validation within a time budget, keep the
best.

The candidates run cheapest first (embeddings + logistic regression, then the CNN from scratch,
then ImageNet transfer), so a small budget still yields the recipes that usually win on small
data. Pretrained embedders that are not installed are skipped with their install command; BirdNET
is tried only where it has been installed (installing it is the user's opt-in to its
non-commercial licence). Every candidate is cross-validated on the same folds; one whose folds
project past the remaining budget is stopped and reported as such. The winner (highest score
of the task's primary metric: balanced accuracy for classification, macro mAP for tagging) is
then trained on all the data; that final fit is not counted against the budget but
its expected time is printed.

Ensembles of the best candidates are scored too, at no extra training cost: the mean of the
clip probabilities of the two, and of the three, best finished candidates, from their
out-of-fold predictions (:func:`earmark.ensemble.combine_cv_results`). When one of them wins,
every member is trained on all the data and saved in one model file
(:class:`~earmark.ensemble.EnsembleClassifier`). Choosing the best of several rows on the same
folds flatters the winner a little; the rule is fixed (top 2, top 3) to keep that small.
"""

import time

from ._validation import check_number
from .errors import BudgetExceededError, EarmarkError, ParameterError

__all__ = ["AUTO_CANDIDATES", "auto_select"]

#: (recipe, extra SoundClassifier parameters), cheapest first.
AUTO_CANDIDATES = (
    ("embed:classic+logreg", {}),
    ("embed:yamnet+logreg", {}),
    ("embed:efficientnet+logreg", {}),
    ("embed:birdnet+logreg", {}),
    ("cnn", {}),
    ("transfer:efficientnet", {}),
)


def _skip_note(recipe, exc):
    """Why a candidate whose model is not installed was skipped (the error names the install
    command; BirdNET's adds why it is opt-in)."""
    note = f"not installed: {exc}"
    if recipe.startswith("embed:birdnet+"):
        note += " (BirdNET is opt-in: its licence, CC BY-NC-SA 4.0, is non-commercial)"
    return note


def auto_select(data, *, budget_min=30.0, folds=None, groups=None, n_splits=5, candidates=None,
                ensembles=True, group_column="group", seed=0, progress=True, verbose=None,
                task="classification", **params):
    """Cross-validate the candidate recipes within ``budget_min`` minutes; return the table.

    Parameters
    ----------
    data : str, path-like or Dataset
    budget_min : float
        Minutes for all the cross-validations together.
    folds, groups, n_splits
        The cross-validation protocol (as :func:`earmark.cross_validate`); with neither, the
        dataset's ``fold`` column if it has one, else grouped k-fold on ``group_column``.
    candidates : sequence of (recipe, dict) or None
        Default :data:`AUTO_CANDIDATES`.
    ensembles : bool
        Also score the mean of the clip probabilities of the 2 and the 3 best finished
        candidates (rows 'ensemble:A,B'); their ``params`` hold ``members``.
    progress : bool
        Progress bars of the cross-validations.
    verbose : bool or None
        Print a line per candidate as it starts and ends (None: as ``progress``).
    task : {'classification', 'tagging'}
        Candidates are :class:`~earmark.SoundClassifier` or :class:`~earmark.SoundTagger`
        estimators, ranked by the task's primary metric.
    **params
        Further estimator parameters for every candidate (e.g. ``device``).

    Returns
    -------
    dict
        ``rows`` (one per candidate: recipe, status 'done' | 'over budget' | 'skipped' | 'failed',
        ``metric`` (the task's primary metric's name), ``score`` and ``score_std`` (its mean and
        std over folds; also under the metric's own name, e.g. balanced_accuracy and
        balanced_accuracy_std, with macro_f1 for classification), wall_s, note), ``best`` (the
        row of the winner),
        ``best_params`` (SoundClassifier parameters to train it; for an ensemble
        ``{"members": [parameters of each member]}``), ``protocol``, ``budget_min``.

    Raises
    ------
    EarmarkError
        No candidate finished within the budget.

    Examples
    --------
    >>> r = earmark.auto_select("drums/", budget_min=20)           # doctest: +SKIP
    >>> r["best"]["recipe"]                                         # doctest: +SKIP
    'transfer:efficientnet'
    """
    from .data import load_dataset
    from .estimators import SoundClassifier, SoundTagger
    from .evaluation import cross_validate
    from .models.embeddings import ModelNotInstalledError
    from .tasks import get_task

    metric = get_task(task).primary_metric
    make = {"classification": SoundClassifier, "tagging": SoundTagger}[get_task(task).name]

    check_number(budget_min, "budget_min", "auto_select", low=0)
    dataset = load_dataset(data)
    if folds is None and groups is None:
        if dataset.has_column("fold"):
            folds = "fold"
        elif dataset.has_column(group_column):
            groups = group_column
        else:
            raise ParameterError(
                f"{dataset.source}: --recipe auto compares recipes by grouped cross-validation "
                f"and needs a 'fold' or {group_column!r} column (recordings that share a source "
                "must not be split between training and test); give --folds or --groups")
    verbose = progress if verbose is None else verbose
    budget_s = 60.0 * budget_min
    t0 = time.perf_counter()
    rows, results = [], {}
    for recipe, extra in (AUTO_CANDIDATES if candidates is None else candidates):
        row = {"recipe": recipe, "params": dict(extra), "status": "skipped", "metric": metric,
               "score": None, "score_std": None, metric: None, f"{metric}_std": None,
               "macro_f1": None, "wall_s": 0.0, "note": ""}
        rows.append(row)
        left = budget_s - (time.perf_counter() - t0)
        if left <= 0:
            row["note"] = "budget spent"
        else:
            if verbose:
                print(f"auto: {recipe} ({left / 60:.1f} min of budget left)", flush=True)
            tc = time.perf_counter()
            try:
                est = make(**{"progress": progress, **params, **extra, "recipe": recipe,
                              "seed": seed})
                r = cross_validate(dataset, folds=folds, groups=groups, n_splits=n_splits,
                                   progress=progress, time_limit_s=left, estimator=est)
            except ModelNotInstalledError as exc:      # raised before any audio is decoded
                row.update(status="skipped", note=_skip_note(recipe, exc))
            except BudgetExceededError as exc:
                row.update(status="over budget", note=str(exc))
            except EarmarkError as exc:
                row.update(status="failed", note=str(exc))
            else:
                row.update({"status": "done", "score": r[metric],
                            "score_std": r[f"{metric}_std"], metric: r[metric],
                            f"{metric}_std": r[f"{metric}_std"], "macro_f1": r.get("macro_f1")})
                results[id(row)] = r
            row["wall_s"] = time.perf_counter() - tc
        if verbose:
            print("auto: " + format_row(row), flush=True)
    done = [r for r in rows if r["status"] == "done"]
    if not done:
        raise EarmarkError(f"--recipe auto: no recipe finished its cross-validation within "
                           f"{budget_min:g} min; raise --budget-min or pick a --recipe")
    if ensembles:
        rows += _ensemble_rows(done, results, params=params, seed=seed, verbose=verbose)
    done = [r for r in rows if r["status"] == "done"]
    best = max(done, key=lambda r: r["score"])
    best_params = ({"members": best["params"]["members"]} if "members" in best["params"] else
                   {"recipe": best["recipe"], **params, **best["params"], "seed": seed})
    return {"rows": rows, "best": best, "best_params": best_params,
            "protocol": f"folds={folds}" if folds else f"groups={groups}, k={n_splits}",
            "budget_min": budget_min, "wall_s": time.perf_counter() - t0}


def _ensemble_rows(done, results, *, params, seed, verbose):
    """Rows for the means of the 2 and 3 best finished candidates (scored from their folds)."""
    from .evaluation import combine_cv_results

    ranked = sorted(done, key=lambda r: -r["score"])
    rows = []
    for k in (2, 3):
        if len(ranked) < k:
            break
        top = ranked[:k]
        r = combine_cv_results([results[id(m)] for m in top])
        metric = top[0]["metric"]
        row = {"recipe": "ensemble:" + ",".join(m["recipe"] for m in top),
               "params": {"members": [{"recipe": m["recipe"], **params, **m["params"],
                                       "seed": seed} for m in top]},
               "status": "done", "metric": metric, "score": r[metric],
               "score_std": r[f"{metric}_std"], metric: r[metric],
               f"{metric}_std": r[f"{metric}_std"], "macro_f1": r.get("macro_f1"),
               "wall_s": sum(m["wall_s"] for m in top),
               "note": f"mean of the clip probabilities of the {k} best"}
        rows.append(row)
        if verbose:
            print("auto: " + format_row(row), flush=True)
    return rows


def format_row(row, *, width=28):
    """One line for a candidate of :func:`auto_select` (the recipe padded to ``width``)."""
    if row["status"] == "done":
        name = {"balanced_accuracy": "balanced accuracy", "map_macro": "macro mAP"}.get(
            row.get("metric", "balanced_accuracy"), row.get("metric"))
        return (f"{row['recipe']:<{width}} {name} {row['score']:.3f} ± "
                f"{row['score_std']:.3f}  ({row['wall_s'] / 60:.1f} min)")
    return f"{row['recipe']:<{width}} {row['status']}: {row['note']}"
