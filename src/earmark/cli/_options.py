"""What several commands share: the -q option, the data and model options, and building the
estimator (or ensemble) from them."""

import argparse

from ..augment.plan import SPEC_HELP
from ..errors import ParameterError

_FEATURE_KEYS = ("sample_rate", "window_s", "hop_s", "n_mels", "n_fft", "hop_length", "fmin",
                 "fmax", "normalize")

TASKS = ("classification", "tagging", "detection", "novelty")
TASK_HELP = ("classification (default): one label per clip; tagging: multi-label tagging: a "
             "clip may carry several labels (a 'labels' column separated by ';', or tags derived "
             "from an annotations.csv of events); sigmoid outputs, per-class thresholds tuned to "
             "maximise F1; detection: sound event detection, every event's onset, offset and "
             "class (strong labels: an annotation table, Audacity or Raven label files; or "
             "--weak with clip tags only); recipe crnn by default; novelty: fit on normal "
             "audio only (a folder of clips, or the rows labelled 'normal') and flag what is "
             "unlike it, see --method, --false-alarms, --embedder")


class _Recipe(argparse.Action):
    """--recipe, remembering that it was given (detection's default recipe differs)."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        namespace.recipe_given = True


def add_command(subparsers, name, help_):
    """A sub-command with ``help_`` as its help and description, and -q/--quiet."""
    sp = subparsers.add_parser(name, help=help_, description=help_)
    sp.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    return sp


def _add_annotations_option(p):
    p.add_argument("--annotations", metavar="FILE", default=None,
                   help="a table of timed events (annotations.csv: filename, onset, offset, "
                   "event_label) for the clips of DATA; DATA is then read with "
                   "earmark.data.load_dataset(DATA, annotations=FILE)")


def load_data(args):
    """What the Python API is given as data: the DATA argument itself, or with --annotations the
    Dataset read from DATA and FILE."""
    if args.annotations is None:
        return args.data
    from ..data import load_dataset
    return load_dataset(args.data, annotations=args.annotations)


def _add_model_options(p):
    g = p.add_argument_group("model and training")
    g.add_argument("--task", default="classification", choices=TASKS, help=TASK_HELP)
    g.add_argument("--window-labels", default=None, choices=("clip", "events"),
                   help="tagging: train each analysis window on its clip's tags (clip, the "
                   "default: weak labels) or on the annotated events it overlaps (events: "
                   "strong labels from the annotation table)")
    g.add_argument("--weak", action="store_true", help="detection: learn from clip tags only "
                   "(weak labels: multi-instance learning through attention pooling of the "
                   "frames); without it the annotation table's onsets and offsets are the "
                   "frame targets")
    p.set_defaults(recipe_given=False)
    g.add_argument("--recipe", default="cnn", action=_Recipe,
                   help="cnn (default; crnn for --task detection: a "
                   "convolutional recurrent network with frame outputs): a CNN trained from scratch, "
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
    g.add_argument("--val-fraction", type=float, default=None, help="carve this fraction "
                   "of the training clips out by group for early stopping, and for tagging to "
                   "tune the thresholds (default: 0 for classification, training on all clips "
                   "for --epochs; 0.2 for tagging)")
    g.add_argument("--patience", type=int, default=10, help="early-stopping patience (epochs)")
    g.add_argument("--balance", default="loss", choices=("loss", "sampler", "none"))
    g.add_argument("--augment", default="default", help=SPEC_HELP)
    g.add_argument("--aggregation", default=None, choices=("mean", "max", "vote", "lse"),
                   help="window scores -> clip scores (default: the task's own; mean for "
                   "classification)")
    g.add_argument("--method", default=None,
                   choices=("knn", "mahalanobis", "gmm", "iforest", "autoencoder"),
                   help="novelty: the scorer of window embeddings (default knn; autoencoder "
                   "with --embedder logmel)")
    g.add_argument("--false-alarms", default=None, metavar="BUDGET",
                   help="novelty: false-alarm budget, '1%%' of normal windows (default) or "
                   "'2/h' alarms per hour of normal audio")
    g.add_argument("--embedder", default=None, help="novelty: the embedder of the windows "
                   "(default classic: log-mel/MFCC statistics; yamnet, birdnet, ...; logmel: the "
                   "log-mel frames the autoencoder takes)")
    g.add_argument("--unknown", default=None, metavar="SHARE",
                   help="classification: also answer 'unknown' for clips unlike every known "
                   "class; SHARE of known-class clips that may be rejected, e.g. 5%% (a target "
                   "known-class recall of 95 %%), set on about 20 %% of the training clips held "
                   "out by group")
    g.add_argument("--rejection", default=None, choices=("knn", "energy", "maxprob"),
                   help="with --unknown: the rejection score (default knn: distance of the "
                   "window embeddings to the nearest training windows; energy: of the logits; "
                   "maxprob: one minus the top class probability)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    _add_feature_options(p)


def _add_feature_options(p):
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


def _feature_options_given(args):
    return args.mfcc or any(getattr(args, k) is not None for k in _FEATURE_KEYS)


def _estimator(args):
    """The estimator the options describe: a SoundClassifier, or with --task tagging a
    SoundTagger with the same parameters."""
    if args.task == "novelty" or any(getattr(args, k, None) is not None for k in _NOVELTY_KEYS):
        return _novelty_estimator(args)
    feats = {key: getattr(args, key) for key in _FEATURE_KEYS if getattr(args, key) is not None}
    if args.mfcc:
        feats["kind"] = "mfcc"
    if args.task == "detection" and not args.recipe_given:
        args.recipe = "crnn"
    transfer = args.recipe.startswith("transfer:")
    if args.recipe not in ("cnn", "crnn") and not transfer:
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
    params = dict(recipe=args.recipe, model=args.model, features=features, epochs=args.epochs,
                  batch_size=args.batch_size, learning_rate=args.learning_rate,
                  patience=args.patience, val_fraction=args.val_fraction, balance=args.balance,
                  augment=augment, seed=args.seed, device=args.device, progress=not args.quiet)
    # each estimator has its own default aggregation: pass it only when given
    if args.aggregation is not None:
        params["aggregation"] = args.aggregation
    _refuse_open_set_options(args)
    if args.task == "detection":
        if args.window_labels is not None:
            raise ParameterError("--window-labels applies to --task tagging only; a detector "
                                 "trains on the events (or, with --weak, the clip tags)")
        from .. import SoundDetector
        return SoundDetector(**params, weak=args.weak)
    if args.weak:
        raise ParameterError("--weak applies to --task detection only")
    if args.task == "tagging":
        from .. import SoundTagger
        return SoundTagger(**params, window_labels=args.window_labels or "clip")
    if args.window_labels is not None:
        raise ParameterError("--window-labels applies to --task tagging only")
    from .. import SoundClassifier
    return SoundClassifier(**params, unknown=getattr(args, "unknown", None),
                           rejection=getattr(args, "rejection", None))


def _refuse_open_set_options(args):
    """--unknown and --rejection: one classifier only (not tagging, detection, auto or an
    ensemble), and --rejection only with --unknown (or evaluate --open-set)."""
    unknown, rejection = getattr(args, "unknown", None), getattr(args, "rejection", None)
    if unknown is None and rejection is None:
        return
    given = "--unknown" if unknown is not None else "--rejection"
    if args.task != "classification":
        raise ParameterError(f"{given} applies to --task classification only (a classifier "
                             "that answers 'unknown')")
    if args.recipe == "auto" or args.recipe.startswith("ensemble:"):
        raise ParameterError(f"{given} does not apply to --recipe {args.recipe}; give one "
                             "classifier recipe")
    if unknown is None and getattr(args, "open_set", None) is None:
        raise ParameterError("--rejection chooses the score of --unknown; give --unknown too "
                             "(e.g. --unknown 5%)")


#: The options that apply to --task novelty only.
_NOVELTY_KEYS = ("method", "false_alarms", "embedder")


def _novelty_estimator(args):
    """--task novelty: a NoveltyDetector (--method, --false-alarms, --embedder, --aggregation,
    --seed); options of the trained models are refused."""
    if args.task != "novelty":
        given = [f"--{k.replace('_', '-')}" for k in _NOVELTY_KEYS if getattr(args, k, None)]
        raise ParameterError(f"{', '.join(given)} apply to --task novelty only")
    if _feature_options_given(args) or args.recipe_given or args.weak or \
            args.window_labels is not None or getattr(args, "unknown", None) is not None or \
            getattr(args, "rejection", None) is not None:
        raise ParameterError("--task novelty takes --method, --false-alarms, --embedder, "
                             "--aggregation and --seed; feature options, --recipe, --weak, "
                             "--window-labels, --unknown and --rejection do not apply (the "
                             "embedder fixes the windows)")
    from .. import NoveltyDetector
    params = {k: getattr(args, k) for k in _NOVELTY_KEYS if getattr(args, k) is not None}
    if args.aggregation is not None:
        params["aggregation"] = args.aggregation
    return NoveltyDetector(**params, seed=args.seed, progress=not args.quiet)


def _ensemble(args):
    """--recipe ensemble:A,B[,...]: an EnsembleClassifier of the members' estimators."""
    from ..estimators import EnsembleClassifier, member_seeds

    recipes = [r.strip() for r in args.recipe[len("ensemble:"):].split(",")]
    if len(recipes) < 2 or not all(recipes) or any(r == "auto" or r.startswith("ensemble:")
                                                   for r in recipes):
        raise SystemExit(f"earmark: --recipe {args.recipe}: an ensemble names 2 or more "
                         "recipes joined with ',', e.g. ensemble:cnn,embed:birdnet+logreg")
    if _feature_options_given(args):
        raise SystemExit("earmark: feature options do not apply to an ensemble (each member "
                         "recipe has its own front end)")
    members, seed = [], args.seed
    for recipe, member_seed in zip(recipes, member_seeds(recipes, seed)):
        args.recipe, args.seed = recipe, member_seed
        members.append(_estimator(args))
    args.recipe, args.seed = "ensemble:" + ",".join(recipes), seed
    return EnsembleClassifier(members, progress=not args.quiet)


def refuse_detection_combinations(args):
    """--recipe auto and ensemble:... rank and average clip scores: not for detection; and
    --unknown / --rejection: one classifier recipe only."""
    if getattr(args, "task", None) is not None:
        _refuse_open_set_options(args)
    if getattr(args, "task", None) == "detection" and (
            args.recipe == "auto" or args.recipe.startswith("ensemble:")):
        raise ParameterError(f"--recipe {args.recipe} does not apply to --task detection (it "
                             "ranks and averages clip scores); give one detector recipe: crnn "
                             "(default), cnn, transfer:..., embed:EMBEDDER+HEAD")
