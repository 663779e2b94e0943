"""earmark train DATA --out MODEL: train a classifier (or tagger) and save it to one model file.

``--unknown 5%`` makes a classifier that answers 'unknown' for clips unlike every class it knows
(:class:`earmark.SoundClassifier` ``unknown=``)."""

import time

from ._options import (_add_annotations_option, _add_model_options, _ensemble, _estimator,
                       _feature_options_given, add_command, load_data)

HELP = "train a classifier and save it to one model file"


def add_parser(subparsers):
    s = add_command(subparsers, "train", HELP)
    s.add_argument("data")
    _add_annotations_option(s)
    s.add_argument("--out", required=True, help="model file to write (e.g. drums.earmark)")
    s.add_argument("--groups", default=None, help="column whose groups never straddle the "
                   "train/validation split (default group, when present); with --recipe auto "
                   "and no --folds, the groups of its grouped 5-fold cross-validation")
    s.add_argument("--folds", default=None, help="--recipe auto: column of predefined folds for "
                   "comparing recipes (default: 'fold' when the dataset has it)")
    s.add_argument("--budget-min", type=float, default=30.0, help="--recipe auto: minutes for "
                   "all the candidates' cross-validations (default 30)")
    _add_model_options(s)
    s.set_defaults(func=run)
    return s


def _auto(args):
    """--recipe auto: cross-validate the candidates, print the table, return the best estimator."""
    from ..auto import auto_select, format_row
    from ..estimators import SoundClassifier, SoundTagger

    make = SoundTagger if args.task == "tagging" else SoundClassifier

    if _feature_options_given(args):
        raise SystemExit("earmark train --recipe auto: feature options do not apply (each "
                         "candidate recipe has its own front end)")
    args.recipe = "cnn"                     # validates the shared options as for a CNN
    base = _estimator(args)
    # the shared options apply to every candidate they concern (unset ones: each recipe's own
    # defaults)
    shared = {k: v for k, v in base.get_params().items()
              if k not in ("recipe", "features", "seed", "progress")}
    r = auto_select(load_data(args), budget_min=args.budget_min, folds=args.folds,
                    group_column=args.groups, seed=args.seed, task=args.task,
                    progress=not args.quiet, verbose=True, **shared)
    print(f"--recipe auto ({r['protocol']}, budget {args.budget_min:g} min, "
          f"{r['wall_s'] / 60:.1f} min used):")
    for row in r["rows"]:
        print(("* " if row is r["best"] else "  ") +
              format_row(row, width=max(len(x["recipe"]) for x in r["rows"])))
    best = r["best"]
    print(f"training {best['recipe']} on all the data (its cross-validation took "
          f"{best['wall_s'] / 60:.1f} min)")
    if "members" in r["best_params"]:
        from ..estimators import EnsembleClassifier
        clf = EnsembleClassifier([make(**{**p, "progress": not args.quiet})
                                  for p in r["best_params"]["members"]], progress=not args.quiet)
    else:
        clf = make(**{**r["best_params"], "progress": not args.quiet})
    return clf, {k: r[k] for k in ("rows", "protocol", "budget_min", "wall_s")}


def run(args):
    from ._options import refuse_detection_combinations
    refuse_detection_combinations(args)
    _check_options(args)
    auto = None
    if args.recipe == "auto":
        clf, auto = _auto(args)
    elif args.recipe.startswith("ensemble:"):
        clf = _ensemble(args)
    else:
        clf = _estimator(args)
    t = time.perf_counter()
    clf.fit(load_data(args), group_column=args.groups)
    if auto is not None:
        clf.train_info_["auto"] = auto
    clf.save(args.out)
    info = clf.train_info_
    if clf.task == "novelty":
        print(f"fitted {clf.method} on {clf.embedder} embeddings of {info['n_clips']} normal "
              f"clips ({info['n_windows']} windows) in {time.perf_counter() - t:.0f} s; "
              f"false-alarm budget {clf.false_alarms}: window threshold {clf.threshold_:.4g}, "
              f"file threshold {clf.file_threshold_:.4g} (held-out normal audio, "
              f"{info['calibration_splits']} splits by group)")
        print(f"wrote {args.out}")
        return 0
    if "members" in info:
        print(f"trained {clf.recipe} (mean of the members' clip probabilities) for "
              f"{len(clf.classes_)} classes in {time.perf_counter() - t:.0f} s")
        if clf.licence_:
            print(f"licences of pretrained weights (stored in the model): {clf.licence_}")
        print(f"wrote {args.out}")
        return 0
    if clf.train_config_ is None:
        head = info["head"]
        score = head.get("inner_cv_score", head.get("inner_cv_balanced_accuracy"))
        metric = "mean average precision" if clf.task == "tagging" else "balanced accuracy"
        print(f"trained {clf.recipe} for {len(clf.classes_)} classes on "
              f"{info['n_train_clips']} clips ({info['n_train_windows']} windows) in "
              f"{time.perf_counter() - t:.0f} s; inner-CV {metric} "
              f"{'-' if score is None else round(score, 3)} with {head['best_params']}")
        print(f"licence of the embedder's weights (stored in the model): {clf.licence_}")
        _print_thresholds(clf)
        _print_postprocessing(clf)
        _print_rejection(clf)
        print(f"wrote {args.out}")
        return 0
    best = clf.history_[info["best_epoch"] - 1] if info["best_epoch"] else {}
    note = " (interrupted with Ctrl-C: best epoch kept)" if info["interrupted"] else ""
    if info["n_val_clips"]:
        metric = "macro mAP" if clf.task in ("tagging", "detection") else "balanced accuracy"
        if clf.task == "detection":
            metric = "clip-tag macro mAP"
        val = (f"validation {info['n_val_clips']} clips; best epoch {info['best_epoch']}, "
               f"validation {metric} {best['val_score']:.3f}")
    else:
        val = f"no validation split; {info['epochs_run']} epochs"
    print(f"trained {len(clf.classes_)} classes on {info['n_train_clips']} clips in "
          f"{time.perf_counter() - t:.0f} s ({val}){note}")
    _print_thresholds(clf)
    _print_postprocessing(clf)
    _print_rejection(clf)
    print(f"wrote {args.out}")
    return 0


def _print_rejection(est):
    rej = getattr(est, "rejector_", None)
    if rej is None:
        return
    info = est.train_info_.get("rejection", {})
    print(f"answers 'unknown' when the {rej.score} rejection score is above "
          f"{rej.threshold_:.4g}: at most {rej.unknown} of "
          f"{info.get('n_held_out_clips', len(rej.calibration_scores_))} known-class clips held "
          "out of training (by group) were rejected; the model was trained on the rest")


def _print_postprocessing(est):
    pp = getattr(est, "postprocessing_", None)
    if pp is None:
        return
    print(f"event post-processing ({est.postprocessing_source_}):")
    for j, c in enumerate(est.classes_):
        f1 = est.tuning_.get(c, {}).get("f1")
        print(f"  {c}: onset {pp.onset_threshold[j]:.2f}, offset {pp.offset_threshold[j]:.2f}, "
              f"median filter {pp.median_filter_s[j]:g} s, min length {pp.min_duration_s[j]:g} s, "
              f"gaps < {pp.min_gap_s[j]:g} s merged"
              + ("" if f1 is None else f"; validation collar F1 {f1:.3f}"))


def _check_options(args):
    """Before any work: the model file can be written, and the columns named exist."""
    from .._io import check_output_path
    from ..data import load_dataset
    from ..data.sources import dataset_inputs
    from ..data.validate import check_columns

    check_output_path(args.out, inputs=dataset_inputs(args.data, annotations=args.annotations),
                      owner="--out")
    if args.task == "novelty":       # a flat folder of normal clips is data too
        from ..estimators.novelty import NoveltyDetector
        dataset = NoveltyDetector().normal_dataset(load_data(args))
    else:
        dataset = load_dataset(load_data(args))
    check_columns(dataset, {"--groups": args.groups, "--folds": args.folds})
    args.groups = args.groups or "group"        # the default: used when the dataset has it


def _print_thresholds(est):
    if getattr(est, "thresholds_", None) is None:
        return
    shown = ", ".join(f"{c} {t:.2f}" for c, t in zip(est.classes_, est.thresholds_))
    print(f"decision thresholds ({est.threshold_source_}): {shown}")
