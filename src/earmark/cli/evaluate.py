"""earmark evaluate DATA (--folds COLUMN | --groups COLUMN): cross-validate one recipe."""

import os

from ._options import (_add_annotations_option, _add_model_options, _ensemble, _estimator,
                       add_command, load_data)

HELP = "cross-validate with predefined folds or grouped k-fold"


def add_parser(subparsers):
    s = add_command(subparsers, "evaluate", HELP)
    s.add_argument("data")
    _add_annotations_option(s)
    s.add_argument("--folds", help="column of predefined folds: each value is one test fold")
    s.add_argument("--groups", help="column of groups for grouped k-fold")
    s.add_argument("--k", type=int, default=5, help="number of folds with --groups")
    s.add_argument("--json", help="write metrics, per-fold results and predictions as JSON "
                   "(a confusion-matrix PNG is written beside it)")
    s.add_argument("--report", help="write an HTML report")
    s.add_argument("--open-set", metavar="CLASSES", default=None, help="open-set "
                   "classification: hold classes out as unknown and measure the rejection "
                   "scores (AUROC known vs unknown for maxprob, energy and knn; known-class "
                   "accuracy at the --unknown threshold, default 5%%); 'all': every class in "
                   "turn, or a list such as 'kick,snare' (each in turn) or 'kick+snare' (held "
                   "out together)")
    s.add_argument("--allow-duplicates", action="store_true", help="evaluate even when one "
                   "file, or copies of one recording, sit in more than one fold or group "
                   "(refused by default: the score would be too good)")
    _add_model_options(s)
    s.set_defaults(func=run)
    return s


def run(args):
    from .._io import write_json
    from ..evaluation import cross_validate, write_confusion_png

    from ._options import refuse_detection_combinations
    refuse_detection_combinations(args)
    if (args.folds is None) == (args.groups is None):
        raise SystemExit("earmark evaluate: give --folds COLUMN (predefined folds) or --groups "
                         "COLUMN (grouped k-fold)")
    if args.recipe == "auto":
        raise SystemExit("earmark evaluate: --recipe auto is for 'earmark train' (it "
                         "cross-validates every candidate itself and prints the table); evaluate "
                         "one recipe here")
    if args.task == "novelty" and args.recipe.startswith("ensemble:"):
        raise SystemExit("earmark evaluate: --task novelty takes no ensembles")
    if args.open_set is not None:
        return _open_set(args)
    _check_inputs_and_outputs(args)
    if args.recipe.startswith("ensemble:"):
        from ..evaluation import combine_cv_results
        members = _ensemble(args).members
        for member in members:     # bad settings or a missing model: before any member runs
            member.check_params()
        data = load_data(args)
        runs = []
        for member in members:
            if not args.quiet:
                print(f"ensemble member {member.recipe}:", flush=True)
            runs.append(cross_validate(data, folds=args.folds, groups=args.groups,
                                       n_splits=args.k, estimator=member,
                                       progress=not args.quiet))
            print(f"  {member.recipe}: {_headline(runs[-1])}", flush=True)
        r = combine_cv_results(runs)
    else:
        estimator = _estimator(args)
        r = cross_validate(load_data(args), folds=args.folds, groups=args.groups,
                           n_splits=args.k, estimator=estimator, progress=not args.quiet)
    print(f"{r['protocol']}: {_headline(r)} ({len(r['folds'])} folds, {r['wall_s']:.0f} s)")
    if r.get("task") == "novelty":
        print(f"{'anomaly family':<20}{'ROC-AUC':>8}{'pAUC':>7}{'recall':>8}{'clips':>7}")
        for fam, m in r["per_family"].items():
            print(f"{fam:<20}{_fmt(m['roc_auc']):>8}{_fmt(m['pauc']):>7}"
                  f"{_fmt(m['recall']):>8}{m['n']:>7}")
    elif r.get("task") == "detection":
        print(f"{'class':<20}{'collar F1':>10}{'P':>7}{'R':>7}{'segment F1':>11}{'events':>8}"
              f"{'detected':>9}")
        for lab, m in r["per_class"].items():
            print(f"{lab:<20}{_fmt(m['collar_f1']):>10}{_fmt(m['collar_precision']):>7}"
                  f"{_fmt(m['collar_recall']):>7}{_fmt(m['segment_f1']):>11}{m['n_ref']:>8}"
                  f"{m['n_detected']:>9}")
    elif r.get("task", "classification") == "classification":
        print(f"{'class':<20}{'precision':>10}{'recall':>8}{'f1':>7}{'support':>9}")
        for lab, m in r["per_class"].items():
            print(f"{lab:<20}{m['precision']:>10.3f}{m['recall']:>8.3f}{m['f1']:>7.3f}"
                  f"{m['support']:>9}")
    else:
        print(f"{'class':<20}{'AP':>7}{'threshold':>10}{'precision':>10}{'recall':>8}"
              f"{'f1':>7}{'clips':>7}")
        for lab, m in r["per_class"].items():
            print(f"{lab:<20}{_fmt(m['ap']):>7}{_fmt(m['threshold']):>10}"
                  f"{_fmt(m['precision']):>10}{_fmt(m['recall']):>8}{_fmt(m['f1']):>7}"
                  f"{m['support']:>7}")
    if args.json:
        write_json(r, args.json)
        if "confusion_matrix" in r:
            png = os.path.splitext(args.json)[0] + "_confusion.png"
            write_confusion_png(r, png)
            print(f"wrote {args.json} and {png}")
        else:
            print(f"wrote {args.json}")
    if args.report:
        if r.get("task") == "novelty":
            from ..reports.novelty import write_novelty_report as write_report
        else:
            from ..reports import write_evaluation_report as write_report
        write_report(r, args.report, progress=not args.quiet)
        print(f"wrote {args.report}")
    return 0


def _open_set(args):
    """--open-set: hold classes out as unknown (each in turn, or the stated sets) and print
    the AUROC of every rejection score and the decisions at the threshold."""
    from .._io import write_json
    from ..evaluation.open_set import evaluate_open_set, format_open_set

    if args.task != "classification" or args.recipe.startswith("ensemble:") or args.report:
        raise SystemExit("earmark evaluate: --open-set evaluates one classifier recipe (--task "
                         "classification, no ensemble); it writes --json, not --report")
    _check_inputs_and_outputs(args)
    estimator = _estimator(args)
    if estimator.unknown is None:
        estimator.unknown = "5%"
    sets = None if args.open_set == "all" else [s.split("+") for s in args.open_set.split(",")]
    r = evaluate_open_set(load_data(args), folds=args.folds, groups=args.groups,
                          n_splits=args.k, estimator=estimator, unknown_classes=sets,
                          progress=not args.quiet)
    print(f"{r['protocol']}: classes held out as unknown ({len(r['runs'])} trainings, "
          f"{r['wall_s']:.0f} s)")
    print(format_open_set(r))
    if args.json:
        write_json(r, args.json)
        print(f"wrote {args.json}")
    return 0


def _check_inputs_and_outputs(args):
    """Before any work: the outputs can be written, and no audio sits in two folds."""
    from .._io import check_outputs
    from ..data.sources import dataset_inputs
    from ..data.validate import refuse_fold_leaks

    png = None if args.json is None else os.path.splitext(args.json)[0] + "_confusion.png"
    check_outputs({"--json": args.json, "--json's confusion matrix": png,
                   "--report": args.report},
                  inputs=dataset_inputs(args.data, annotations=args.annotations))
    if not args.allow_duplicates:
        refuse_fold_leaks(load_data(args), column=args.folds or args.groups,
                          option="--folds" if args.folds else "--groups",
                          progress=not args.quiet)


def _fmt(v):
    return "-" if v is None else f"{v:.3f}"


def _headline(r):
    """The metrics line of a cross-validation result, for its task."""
    if r.get("task") == "novelty":
        return (f"ROC-AUC {_fmt(r['roc_auc'])} ± {_fmt(r['roc_auc_std'])}, pAUC "
                f"{_fmt(r['pauc'])}, false-alarm rate {_fmt(r['false_alarm_rate'])} and recall "
                f"{_fmt(r['recall'])} at the {r['false_alarms']} budget")
    if r.get("task") == "detection":
        return (f"PSDS1 {_fmt(r['psds1'])} ± {_fmt(r['psds1_std'])}, PSDS2 {_fmt(r['psds2'])}, "
                f"collar F1 {_fmt(r['collar_f1'])}, segment F1 {_fmt(r['segment_f1'])} "
                f"(ER {_fmt(r['segment_er'])})")
    if r.get("task", "classification") == "tagging":
        return (f"macro mAP {_fmt(r['map_macro'])} ± {_fmt(r['map_macro_std'])}, micro mAP "
                f"{_fmt(r['map_micro'])}, micro-F1 {_fmt(r['f1_micro'])} at the tuned "
                f"thresholds, ROC-AUC {_fmt(r['roc_auc_macro'])}")
    return (f"balanced accuracy {r['balanced_accuracy']:.3f} ± {r['balanced_accuracy_std']:.3f}, "
            f"accuracy {r['accuracy']:.3f}, macro-F1 {r['macro_f1']:.3f}")
