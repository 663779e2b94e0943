"""What an earmark model file must hold, checked before its arrays are decompressed.

:func:`earmark.load` reads a model file with :func:`earmark.bundle.read_bundle`, which checks the
archive itself (size budget, ``.npy`` headers, no pickles), and passes :func:`check_model_file`
as its ``expect``: with only ``earmark.json`` and the arrays' headers read, it checks every field
the estimators read (type, range, the labels against the network's outputs...) and derives the
arrays the model's kind and config declare, with the shapes they imply:

- a ``neural`` model: its network (built on PyTorch's ``meta`` device from the config, which
  allocates nothing) gives the ``net.*`` names and shapes; ``frontend.mel_basis`` is
  ``(n_mels, n_fft // 2 + 1)``; ``norm.mean`` and ``norm.std`` are ``(n_features,)`` and only
  present with ``normalize='dataset'``;
- an ``embedding`` model: its head's config (classes, embedding size, kind) gives the head's
  arrays; sizes learned from the data (support vectors, tree nodes, hidden units) must agree
  between the arrays that share them;
- an ensemble: each member's arrays under ``m<i>/``.

An array the model does not declare, a missing one, or one of another shape or kind is refused.
After the arrays are read, :func:`check_array_values` checks what only the values tell (a
forest's child indices, the SVM's support counts). Every problem is a
:class:`~earmark.errors.ModelFileError` naming the file and the field.

A new model family is one more entry in ``_FAMILIES``; a new network with other outputs one more
entry in ``_NETWORK_BUILDERS``.
"""

import contextlib
import math
import numbers
from collections import Counter

import numpy as np

from .errors import EarmarkError, ModelFileError

__all__ = ["check_model_file", "check_array_values", "reading_field", "MAX_CLASSES",
           "MAX_EMBEDDING_SIZE", "MAX_MEMBERS"]

#: Most classes (labels) a model file may declare.
MAX_CLASSES = 100_000
#: Largest embedding an embedding model's head may take.
MAX_EMBEDDING_SIZE = 1_000_000
#: Most members an ensemble file may hold.
MAX_MEMBERS = 64
#: Most layers of a saved MLP head.
MAX_MLP_LAYERS = 64

# the head state format of earmark.models.heads (repeated: checking a file imports no sklearn)
_HEAD_FORMAT = "earmark.head"
_HEAD_VERSION = 1
_HEAD_KINDS = ("logreg", "svm", "rf", "mlp")
_MLP_ACTIVATIONS = ("relu", "tanh", "logistic", "identity")


def _fail(path, field, problem):
    return ModelFileError(f"{path}: damaged model file: field {field!r}: {problem}")


@contextlib.contextmanager
def reading_field(path, field):
    """Turn any error raised while a model file's ``field`` is read into a
    :class:`ModelFileError` naming the file and the field (one that already is passes)."""
    try:
        yield
    except ModelFileError:
        raise
    except (EarmarkError, KeyError, TypeError, ValueError, AttributeError, IndexError,
            RuntimeError) as exc:
        raise _fail(path, field, f"{type(exc).__name__}: {exc}") from None


# -- plain JSON values ------------------------------------------------------------------------

def _is_int(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_number(v):
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def _int(v, path, field, low, high):
    if not _is_int(v) or not low <= v <= high:
        raise _fail(path, field, f"must be an int in [{low}, {high}]; got {v!r}")
    return int(v)


def _dict(v, path, field, *, optional=False):
    if v is None and optional:
        return {}
    if not isinstance(v, dict):
        raise _fail(path, field, f"must be an object; got {type(v).__name__}")
    return v


def _choice(v, path, field, choices):
    if not isinstance(v, str) or v not in choices:
        raise _fail(path, field, f"must be one of {', '.join(map(repr, choices))}; got {v!r}")
    return v


def _labels(v, path, field):
    if not isinstance(v, list) or not 1 <= len(v) <= MAX_CLASSES:
        raise _fail(path, field, f"must be a list of 1 to {MAX_CLASSES} class names; got "
                                 f"{type(v).__name__}")
    bad = [x for x in v if not isinstance(x, str)]
    if bad:
        raise _fail(path, field, f"class names must be text; got {bad[0]!r}")
    if len(set(v)) != len(v):
        twice = sorted(x for x, n in Counter(v).items() if n > 1)[:5]
        raise _fail(path, field, f"lists class(es) {twice} twice")
    return v


# -- the parts of a file that describe one window estimator -------------------------------------

def _check_task(m, kind, kinds, path, where):
    # a classifier file that says it holds a tagging model (or the other way round) would load
    # with the wrong decision rule
    want = kinds.get(kind) if isinstance(kinds, dict) else None
    task = m.get("task", "classification")
    if isinstance(want, str) and task != want:
        raise _fail(path, where + "task", f"a {kind} model file holds a {want} model; got "
                                          f"{task!r}")


def _parts(meta, path, kinds):
    """(array prefix, estimator meta, field prefix) of each window estimator in the file."""
    kind = meta.get("kind", "classifier")
    if not isinstance(kind, str):
        raise _fail(path, "kind", f"must be text; got {kind!r}")
    if kind != "ensemble":
        _check_task(meta, kind, kinds, path, "")
        return [("", meta, "")]
    labels = _labels(meta.get("labels"), path, "labels")
    _dict(meta.get("training", {}), path, "training")
    members = meta.get("members")
    if not isinstance(members, list) or not 2 <= len(members) <= MAX_MEMBERS:
        raise _fail(path, "members", f"must be a list of 2 to {MAX_MEMBERS} member models")
    parts = []
    for i, m in enumerate(members):
        field = f"members[{i}]"
        m = _dict(m, path, field)
        mkind = m.get("kind", "classifier")
        if mkind == "ensemble" or not isinstance(mkind, str) or \
                (kinds is not None and mkind not in kinds):
            raise _fail(path, f"{field}.kind", f"must be a model kind other than 'ensemble'; "
                                               f"got {mkind!r}")
        if m.get("labels") != labels:
            raise _fail(path, f"{field}.labels", "differ from the ensemble's labels")
        _check_task(m, mkind, kinds, path, f"{field}.")
        parts.append((f"m{i}/", m, f"{field}."))
    return parts


def _window_estimator(m, path, where):
    """Check the fields every window estimator reads; returns (expected arrays, optional)."""
    from .tasks import get_task

    labels = _labels(m.get("labels"), path, where + "labels")
    task_name = m.get("task", "classification")
    try:
        task = get_task(task_name) if isinstance(task_name, str) else None
    except EarmarkError:
        task = None
    if task is None:
        raise _fail(path, where + "task", f"unknown task {task_name!r}")
    features = _features(m.get("features"), path, where + "features")
    # the parameters are only stored (for a refit, which validates them); aggregation is used
    params = _dict(m.get("params", {}), path, where + "params")
    for field, value in (("aggregation", m.get("aggregation")),
                         ("params.aggregation", params.get("aggregation"))):
        if value is not None:
            _choice(value, path, where + field, task.aggregations)
    training = _dict(m.get("training", {}), path, where + "training")
    _dict(training.get("config"), path, where + "training.config", optional=True)
    _dict(training.get("info", {}), path, where + "training.info")
    _dict(training.get("augmentation"), path, where + "training.augmentation", optional=True)
    if not isinstance(training.get("history", []), list):
        raise _fail(path, where + "training.history", "must be a list")
    licence = m.get("licence")
    if licence is not None and not isinstance(licence, str):
        raise _fail(path, where + "licence", "must be text or null")
    model = _dict(m.get("model"), path, where + "model")
    family = model.get("family")
    if not isinstance(family, str) or family not in _FAMILIES:
        raise _fail(path, where + "model.family", f"model family {family!r} is not known to "
                                                  f"this earmark (known: {', '.join(_FAMILIES)})")
    return _FAMILIES[family](model, features=features, n_labels=len(labels), task=task.name,
                             path=path, field=where + "model")


def _features(v, path, field):
    from .config import FeatureConfig

    v = _dict(v, path, field)
    with reading_field(path, field):
        return FeatureConfig.from_dict(v)


# -- neural models ------------------------------------------------------------------------------

def _window_network(name, n_classes, **kwargs):
    from .models.cnn import build_network
    return build_network(name, n_classes, **kwargs)


def _frame_network(name, n_classes, **kwargs):
    from .models.crnn import build_frame_network
    return build_frame_network(name, n_classes, **kwargs)


#: How a neural model's network is built, by its config's ``outputs`` (absent: windows).
_NETWORK_BUILDERS = {"windows": _window_network, "frames": _frame_network}


def _neural(model, *, features, n_labels, task, path, field):
    import torch

    network = model.get("network")
    if not isinstance(network, str):
        raise _fail(path, f"{field}.network", f"must be a network name; got {network!r}")
    n_classes = _int(model.get("n_classes"), path, f"{field}.n_classes", 1, MAX_CLASSES)
    if n_classes != n_labels:
        raise _fail(path, f"{field.rpartition('model')[0]}labels",
                    f"lists {n_labels} labels, but the network has {n_classes} outputs "
                    f"({field}.n_classes)")
    kwargs = _dict(model.get("network_kwargs"), path, f"{field}.network_kwargs", optional=True)
    activation = _choice(model.get("activation", "softmax"), path, f"{field}.activation",
                         ("softmax", "sigmoid"))
    wanted = {"classification": "softmax", "tagging": "sigmoid"}.get(task)
    if wanted is not None and activation != wanted:
        raise _fail(path, f"{field}.activation", f"a {task} model's scores are {wanted}, not "
                                                 f"{activation}")
    outputs = _choice(model.get("outputs", "windows"), path, f"{field}.outputs",
                      tuple(_NETWORK_BUILDERS))
    try:
        # the meta device gives every parameter's shape and allocates nothing, however large
        # the config says the network is
        with torch.device("meta"):
            net = _NETWORK_BUILDERS[outputs](network, n_classes, n_features=features.n_features,
                                             frames=features.frames_per_window, **kwargs)
            state = net.state_dict()
    except Exception as exc:  # any error of any network's constructor: the config is wrong
        raise _fail(path, f"{field}.network_kwargs" if kwargs else f"{field}.network",
                    f"cannot build network {network!r} from it ({type(exc).__name__}: {exc})") \
            from None
    expected = {f"net.{k}": (tuple(v.shape), "f" if v.is_floating_point() else "i")
                for k, v in state.items()}
    expected["frontend.mel_basis"] = ((features.n_mels, features.n_fft // 2 + 1), "f")
    if features.normalize == "dataset":
        expected["norm.mean"] = ((features.n_features,), "f")
        expected["norm.std"] = ((features.n_features,), "f")
    # model files always hold their filter bank, but a model without one computes it
    return expected, {"frontend.mel_basis"}


# -- embedding models ---------------------------------------------------------------------------

def _heads(model):
    """(array prefix, head config, field suffix) of each fitted head of an embedding model."""
    head = model.get("head")
    if model.get("task", "classification") != "tagging":
        return [("head.", head, "head")]
    return [(f"head.c{c}.", cfg, f"head.one_vs_rest[{c}]")
            for c, cfg in enumerate(head.get("one_vs_rest", [])) if "constant" not in cfg]


def _embedding(model, *, features, n_labels, task, path, field):
    spec = model.get("embedder")
    if not isinstance(spec, str) or not 0 < len(spec) <= 4096:
        raise _fail(path, f"{field}.embedder", f"must be an embedder name; got {spec!r}")
    n_classes = _int(model.get("n_classes"), path, f"{field}.n_classes", 1, MAX_CLASSES)
    if n_classes != n_labels:
        raise _fail(path, f"{field.rpartition('model')[0]}labels",
                    f"lists {n_labels} labels, but the head has {n_classes} classes "
                    f"({field}.n_classes)")
    mtask = _choice(model.get("task", "classification"), path, f"{field}.task",
                    ("classification", "tagging"))
    if task in ("classification", "tagging") and mtask != task:
        raise _fail(path, f"{field}.task", f"a {task} model cannot hold a {mtask} head")
    if "embedder_settings" in model:
        _dict(model["embedder_settings"], path, f"{field}.embedder_settings")
    inner_cv = model.get("inner_cv")
    if inner_cv is not None:
        _int(inner_cv, path, f"{field}.inner_cv", 2, 1000)
    head = _dict(model.get("head"), path, f"{field}.head")
    expected = {}
    if mtask == "tagging":
        _choice(head.get("kind"), path, f"{field}.head.kind", _HEAD_KINDS)
        ovr = head.get("one_vs_rest")
        if not isinstance(ovr, list) or len(ovr) != n_classes:
            raise _fail(path, f"{field}.head.one_vs_rest", f"must hold one head per class "
                                                           f"({n_classes})")
        for c, cfg in enumerate(ovr):
            cfg = _dict(cfg, path, f"{field}.head.one_vs_rest[{c}]")
            if "constant" in cfg:
                if not _is_number(cfg["constant"]) or not 0 <= cfg["constant"] <= 1:
                    raise _fail(path, f"{field}.head.one_vs_rest[{c}].constant",
                                f"must be a score in [0, 1]; got {cfg['constant']!r}")
                continue
            expected.update(_head(cfg, f"head.c{c}.", path, f"{field}.head.one_vs_rest[{c}]",
                                  binary=True))
    else:
        expected.update(_head(head, "head.", path, f"{field}.head", n_classes=n_classes))
    return expected, set()


def _head(cfg, prefix, path, field, *, n_classes=None, binary=False):
    """The arrays of one saved head (:func:`earmark.models.heads.head_to_state`)."""
    if cfg.get("format") != _HEAD_FORMAT:
        raise _fail(path, f"{field}.format", f"must be {_HEAD_FORMAT!r}; got "
                                             f"{cfg.get('format')!r}")
    _int(cfg.get("format_version", 1), path, f"{field}.format_version", 0, _HEAD_VERSION)
    kind = _choice(cfg.get("kind"), path, f"{field}.kind", _HEAD_KINDS)
    classes = cfg.get("classes")
    if not isinstance(classes, list) or any(not _is_int(c) for c in classes):
        raise _fail(path, f"{field}.classes", "must be a list of class indices")
    if binary and classes != [0, 1]:
        raise _fail(path, f"{field}.classes", f"a one-vs-rest head's classes are [0, 1]; got "
                                              f"{classes}")
    if not binary and (len(classes) < 2 or len(set(classes)) != len(classes) or
                       min(classes) < 0 or max(classes) >= n_classes):
        raise _fail(path, f"{field}.classes", f"must be 2 or more distinct class indices in "
                                              f"[0, {n_classes}); got {classes[:10]}")
    n_features = _int(cfg.get("n_features"), path, f"{field}.n_features", 1, MAX_EMBEDDING_SIZE)
    if not isinstance(cfg.get("scaler", False), bool):
        raise _fail(path, f"{field}.scaler", "must be true or false")
    k = len(classes)
    n_out = 1 if k == 2 else k

    def sym(name):           # a size learned from the data, shared by the arrays of this head
        return f"{prefix}|{name}"

    out = {}
    if kind == "logreg":
        order = _dict(cfg.get("logreg", {}), path, f"{field}.logreg").get("coef_order", "C")
        _choice(order, path, f"{field}.logreg.coef_order", ("C", "F"))
        out = {"logreg.coef": ((n_out, n_features), "f"), "logreg.intercept": ((n_out,), "f")}
    elif kind == "svm":
        gamma = _dict(cfg.get("svm"), path, f"{field}.svm").get("gamma")
        if not _is_number(gamma) or gamma <= 0:
            raise _fail(path, f"{field}.svm.gamma", f"must be a positive number; got {gamma!r}")
        out = {"svm.support_vectors": ((sym("n_support_vectors"), n_features), "f"),
               "svm.dual_coef": ((k - 1, sym("n_support_vectors")), "f"),
               "svm.intercept": ((k * (k - 1) // 2,), "f"),
               "svm.n_support": ((k,), "i"),
               "svm.calibration_a": ((n_out,), "f"), "svm.calibration_b": ((n_out,), "f")}
    elif kind == "rf":
        out = {"rf.offsets": ((sym("n_trees + 1"),), "i"),
               "rf.left": ((sym("n_nodes"),), "i"), "rf.right": ((sym("n_nodes"),), "i"),
               "rf.feature": ((sym("n_nodes"),), "i"), "rf.threshold": ((sym("n_nodes"),), "f"),
               "rf.value": ((sym("n_nodes"), sym("n_values")), "f")}
    else:
        mlp = _dict(cfg.get("mlp"), path, f"{field}.mlp")
        _choice(mlp.get("activation"), path, f"{field}.mlp.activation", _MLP_ACTIVATIONS)
        _choice(mlp.get("out_activation"), path, f"{field}.mlp.out_activation",
                ("logistic",) if k == 2 else ("softmax",))
        n_layers = _int(mlp.get("n_layers"), path, f"{field}.mlp.n_layers", 1, MAX_MLP_LAYERS)
        sizes = [n_features] + [sym(f"hidden_{i}") for i in range(1, n_layers)] + [n_out]
        for i in range(n_layers):
            out[f"mlp.coef.{i}"] = ((sizes[i], sizes[i + 1]), "f")
            out[f"mlp.intercept.{i}"] = ((sizes[i + 1],), "f")
    if cfg.get("scaler", False):
        out["scaler.mean"] = ((n_features,), "f")
        out["scaler.scale"] = ((n_features,), "f")
    return {prefix + name: spec for name, spec in out.items()}


#: The model families a file's ``model.family`` may name: a function of (model config, ...)
#: returning the arrays it declares, name -> (shape, 'f' float / 'i' integer), and the names
#: among them that may be missing.
_FAMILIES = {"neural": _neural, "embedding": _embedding}


# -- matching the arrays ------------------------------------------------------------------------

def _shape_text(pattern, bound):
    dims = [str(bound.get(d, d.split("|")[-1])) if isinstance(d, str) else str(d)
            for d in pattern]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def _list(names, limit=5):
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(map(repr, names[:limit])) + more


def _match(specs, expected, optional, path):
    unknown = sorted(set(specs) - set(expected))
    if unknown:
        raise ModelFileError(f"{path}: damaged model file: array(s) {_list(unknown)} are not "
                             "part of this model (its kind and config declare "
                             f"{len(expected)} arrays); refused")
    missing = sorted(set(expected) - set(specs) - set(optional))
    if missing:
        raise ModelFileError(f"{path}: damaged model file: lacks array(s) {_list(missing)}, "
                             "which its kind and config declare")
    bound = {}
    for name in sorted(specs):
        spec, (pattern, kind) = specs[name], expected[name]
        ok = len(pattern) == len(spec.shape)
        for want, got in zip(pattern, spec.shape):
            if isinstance(want, str):
                want = bound.setdefault(want, got)
            ok = ok and want == got
        if not ok:
            raise ModelFileError(f"{path}: damaged model file: array {name!r} has shape "
                                 f"{tuple(spec.shape)}; the model's config implies "
                                 f"{_shape_text(pattern, bound)}")
        if (kind == "f" and spec.dtype.kind != "f") or (kind == "i" and
                                                         spec.dtype.kind not in "iu"):
            raise ModelFileError(f"{path}: damaged model file: array {name!r} has dtype "
                                 f"{spec.dtype}; the model needs "
                                 f"{'floats' if kind == 'f' else 'integers'}")


def check_model_file(meta, specs, *, path, kinds=None):
    """Check a model file's fields and arrays before the arrays are decompressed.

    Parameters
    ----------
    meta : dict
        ``earmark.json``.
    specs : dict of str -> earmark.bundle.ArraySpec
        The arrays' names, shapes and dtypes, from their headers.
    path : str
        The file, for messages.
    kinds : dict or None
        The estimator kinds known, each with the task its estimator has (None where it has no
        single one): an ensemble's members must be of one of them, and a file's ``task`` must
        be its kind's. None: any kind but 'ensemble', any task.

    Raises
    ------
    ModelFileError
        A field of the wrong type or out of range, labels that do not match the model's
        outputs, or arrays other than those the model declares (the message names the file and
        the field or array).

    Examples
    --------
    >>> check_model_file({"kind": "classifier", "labels": ["a", "b"]}, {},
    ...                  path="m.earmark")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    earmark.errors.ModelFileError: m.earmark: damaged model file: field 'features': must be ...
    """
    expected, optional = {}, set()
    for prefix, part, where in _parts(meta, path, kinds):
        exp, opt = _window_estimator(part, path, where)
        expected.update({prefix + k: v for k, v in exp.items()})
        optional |= {prefix + k for k in opt}
    _match(specs, expected, optional, path)


def check_array_values(meta, arrays, *, path):
    """Check what only the values of a model file's arrays tell (run after
    :func:`check_model_file` passed and the arrays were read): a forest's child and feature
    indices stay inside their tree and the embedding (so prediction ends), the SVM's support
    counts add up, the scaler divides by no zero.

    Raises
    ------
    ModelFileError
        Naming the file and the array.
    """
    for prefix, part, _ in _parts(meta, path, None):
        model = part.get("model", {})
        if model.get("family") != "embedding":
            continue
        for head_prefix, cfg, _ in _heads(model):
            _check_head_values(cfg, {k[len(prefix + head_prefix):]: v for k, v in arrays.items()
                                     if k.startswith(prefix + head_prefix)},
                               path, prefix + head_prefix)


def _check_head_values(cfg, a, path, prefix):
    def bad(name, problem):
        return ModelFileError(f"{path}: damaged model file: array {prefix + name!r}: {problem}")

    k, n_features = len(cfg["classes"]), cfg["n_features"]
    if cfg.get("scaler") and not np.all(a["scaler.scale"] != 0):
        raise bad("scaler.scale", "divides by zero")
    if cfg["kind"] == "svm":
        n = a["svm.n_support"]
        if np.any(n < 0) or int(n.sum()) != len(a["svm.support_vectors"]):
            raise bad("svm.n_support", f"counts {n.tolist()} do not add up to the "
                                       f"{len(a['svm.support_vectors'])} support vectors")
    if cfg["kind"] != "rf":
        return
    offsets, left, right = a["rf.offsets"], a["rf.left"], a["rf.right"]
    n_nodes = len(left)
    sizes = np.diff(offsets)
    if len(offsets) < 2 or offsets[0] != 0 or offsets[-1] != n_nodes or np.any(sizes < 1):
        raise bad("rf.offsets", f"must rise from 0 to the {n_nodes} nodes, one tree at a time")
    local = np.arange(n_nodes) - np.repeat(offsets[:-1], sizes)
    size = np.repeat(sizes, sizes)
    leaf = left == -1
    if np.any(leaf != (right == -1)):
        raise bad("rf.right", "a node has one child")
    inner = ~leaf
    for name, child in (("rf.left", left), ("rf.right", right)):
        c = child[inner]
        # sklearn numbers a node's children after it: this also rules out a loop in a tree
        if np.any(c <= local[inner]) or np.any(c >= size[inner]):
            raise bad(name, "a child index points outside its tree or back up it")
    feature = a["rf.feature"][inner]
    if np.any(feature < 0) or np.any(feature >= n_features):
        raise bad("rf.feature", f"a split on a feature outside [0, {n_features})")
    if a["rf.value"].shape[1] < k:
        raise bad("rf.value", f"holds {a['rf.value'].shape[1]} columns for {k} classes")
