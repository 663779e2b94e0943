"""ONNX export: a waveform-in, scores-out graph of a trained model, with its decision settings.

:func:`export_onnx` turns a model file (or a fitted estimator) into one ``.onnx`` file that
takes a batch of mono waveform windows at the model's sample rate, shape
``(batch, window_samples)`` float32, and returns the window scores ``(batch, n_classes)``: the
front end (:class:`~earmark.export.frontend.ExportFrontEnd`), the normalisation, the network and
the task's activation (softmax for classification, sigmoid for tagging and detection) are all in
the graph. Resampling, cutting a recording into windows, aggregating window scores to a clip
and deciding stay outside; what they need is in the model's metadata (``metadata_props``, each
value JSON): ``labels``, ``task``, ``sample_rate``, ``window_samples``, ``hop_samples``,
``aggregation``, ``thresholds`` (tagging), ``detection`` (detectors) and more
(:func:`read_metadata`). ``docs/examples/classify_onnx.py`` classifies a WAV file with numpy,
soundfile and onnxruntime alone.

A detector's CRNN has a second output ``frame_scores`` ``(batch, frames, n_classes)``; its
``scores`` output is the frames pooled to the window the way the model does
(``clip_pooling``).

What exports
    classifiers and taggers of the torch recipes ('cnn' with 'sbcnn' or 'cnn',
    'transfer:efficientnet'), detectors (CRNN, or a window classifier), and the embedding
    recipe 'embed:yamnet+logreg' / '+mlp' (see :mod:`earmark.export.embedding`).
What is refused (ParameterError naming why)
    other embedders or heads (their front end or head is not a graph), ensembles (members with
    different windows), novelty detectors.

Before the file is written, onnxruntime runs the graph on test windows (noise at several
levels, a tone, silence) and its scores must equal the model's own ``score_windows`` within
``atol`` (1e-4); the file is then written atomically.
"""

import copy
import io
import json
import os
import warnings

import numpy as np
import torch

from .._validation import check_number
from ..errors import EarmarkError, ParameterError

__all__ = ["export_onnx", "read_metadata", "onnx_session", "export_module", "check_exportable",
           "INPUT_NAME", "OUTPUT_NAME", "FRAME_OUTPUT_NAME", "OPSET"]

INPUT_NAME = "waveform"
OUTPUT_NAME = "scores"
FRAME_OUTPUT_NAME = "frame_scores"
#: ONNX opset of the exported graphs (onnxruntime >= 1.12 runs it).
OPSET = 17


class _WindowScores(torch.nn.Module):
    """Front end + network + activation of a NeuralWindowModel / NeuralFrameModel."""

    def __init__(self, model):
        super().__init__()
        from ..models.neural import _fold_batchnorm
        from .frontend import ExportFrontEnd

        # the transfer network maps dB to its own input: it takes features without normalising
        self.frontend = ExportFrontEnd(model.features, mel_basis=model.frontend.mel_basis,
                                       norm_mean=model.norm_mean, norm_std=model.norm_std)
        model.net.eval()
        self.net = _fold_batchnorm(copy.deepcopy(model.net)).eval()
        self.activation = model.activation
        self.frames = hasattr(model, "score_frames")
        self.clip_pooling = getattr(model, "clip_pooling", None)

    def forward(self, waveform):
        x = self.frontend(waveform)
        if self.frames:
            clip, frames = self.net.clip_and_frames(x)
            scores = clip if self.clip_pooling == "attention" else frames.amax(dim=1)
            return scores, frames
        logits = self.net(x)
        if self.activation == "softmax":
            return torch.softmax(logits, dim=1)
        return torch.sigmoid(logits)


def check_exportable(estimator):
    """Raise ParameterError naming why ``estimator`` cannot be exported to ONNX; returns its
    window model otherwise."""
    from ..models.neural import NeuralWindowModel

    kind = getattr(estimator, "kind", type(estimator).__name__)
    if type(estimator).__name__ == "EnsembleClassifier":
        raise ParameterError("cannot export an ensemble to ONNX: its members score files with "
                             "different sample rates and windows and only their clip scores "
                             "are averaged; export each member's model file instead")
    if kind == "novelty" or not hasattr(estimator, "model_"):
        raise ParameterError(f"cannot export a {kind!r} model to ONNX: only classifiers, "
                             "taggers and detectors export (novelty detectors score with "
                             "nearest neighbours or statistics fitted on their data, which is "
                             "not written as a graph)")
    model = estimator.model_
    if isinstance(model, NeuralWindowModel):
        return model
    from .embedding import check_embedding_exportable
    check_embedding_exportable(model)
    return model


def export_module(estimator):
    """The torch module that the ONNX graph is traced from (torch recipes only)."""
    return _WindowScores(check_exportable(estimator)).eval()


def _version():
    from .. import __version__
    return __version__


def build_metadata(estimator, *, source=None):
    """The metadata written into the ONNX file: ``{key: JSON-able value}``."""
    from ..tasks import get_task

    est = estimator
    model = est.model_
    fc = model.features
    task = est.task
    meta = {
        "format": "earmark.onnx",
        "format_version": 1,
        "earmark_version": _version(),
        "kind": est.kind,
        "task": task,
        "labels": [str(c) for c in est.classes_],
        "sample_rate": int(fc.sample_rate),
        "window_samples": int(fc.window_samples),
        "hop_samples": int(fc.hop_samples),
        "window_s": float(fc.window_s),
        "hop_s": float(fc.hop_s),
        "activation": "softmax" if get_task(task).activation == "softmax" else "sigmoid",
        "aggregation": est.aggregation_,
        "input": {"name": INPUT_NAME, "shape": ["batch", int(fc.window_samples)],
                  "dtype": "float32", "channels": "mono", "sample_rate": int(fc.sample_rate)},
        "outputs": {OUTPUT_NAME: ["batch", len(est.classes_)]},
        "features": fc.to_dict(),
        "windows": ("windows start at 0, hop, 2*hop... while they fit; if the end is not "
                    "covered one more window is placed flush with the end; audio shorter than "
                    "a window is zero-padded after it"),
    }
    if get_task(task).aggregations and "lse" in get_task(task).aggregations:
        from ..windows import LSE_SHARPNESS
        meta["lse_sharpness"] = LSE_SHARPNESS
    if task == "classification":
        meta["decision"] = "argmax of the aggregated scores"
    if getattr(est, "thresholds_", None) is not None:
        meta["thresholds"] = [float(t) for t in est.thresholds_]
        meta["decision"] = "each class whose aggregated score reaches its threshold"
    if est.kind == "detector":
        fm = est._frame_model()
        meta["detection"] = {
            "frame_step_s": float(est.frame_step_s_),
            "window_hop_s": float(est._window_hop_s(fm)),
            "postprocessing": est.postprocessing_.to_dict(),
            "frame_output": hasattr(model, "score_frames"),
        }
        if hasattr(model, "score_frames"):
            meta["outputs"][FRAME_OUTPUT_NAME] = ["batch", int(model.out_frames),
                                                  len(est.classes_)]
            meta["detection"]["frame_step_samples"] = int(model.frame_step_samples)
            meta["clip_pooling"] = model.clip_pooling
    rejector = getattr(est, "rejector_", None)
    if rejector is not None:
        # open-set classifiers: the maximum-probability rule needs only the clip scores; the
        # energy and kNN rules need the network's logits or embeddings, not in this graph
        if rejector.score == "maxprob":
            from ..tasks.classification import UNKNOWN_LABEL
            meta["unknown"] = {"label": UNKNOWN_LABEL, "score": "maxprob",
                               "threshold": float(rejector.threshold_),
                               "rule": "answer 'unknown' when 1 - max(clip scores) > "
                                       "threshold"}
        else:
            meta["unknown"] = {"score": rejector.score, "exported": False,
                               "note": "earmark answers 'unknown' by this rejection score; "
                                       "the exported model always answers a known class"}
    if getattr(est, "licence_", None):
        meta["licence"] = est.licence_
    if source is not None:
        meta["source_model"] = os.path.basename(os.fspath(source))
    return meta


def read_metadata(path_or_model):
    """The earmark metadata of an exported ONNX file as a dict (values parsed from JSON).

    Examples
    --------
    >>> meta = read_metadata("drums.onnx")            # doctest: +SKIP
    >>> meta["labels"], meta["sample_rate"]           # doctest: +SKIP
    (['clap', 'hihat', 'kick', 'snare'], 22050)
    """
    import onnx

    model = path_or_model
    if not isinstance(model, onnx.ModelProto):
        model = onnx.load(os.fspath(path_or_model), load_external_data=False)
    out = {}
    for p in model.metadata_props:
        try:
            out[p.key] = json.loads(p.value)
        except ValueError:
            out[p.key] = p.value
    return out


def onnx_session(path_or_bytes, *, threads=1):
    """An onnxruntime CPU session (``threads`` intra-op threads, no spinning)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = int(threads)
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if not isinstance(path_or_bytes, bytes):
        path_or_bytes = os.fspath(path_or_bytes)
    return ort.InferenceSession(path_or_bytes, so, providers=["CPUExecutionProvider"])


def test_windows(features, *, seed=0):
    """Windows the export is checked on: noise at 80 dB of levels, a tone, a click, silence."""
    rng = np.random.default_rng(seed)
    n = features.window_samples
    t = np.arange(n) / features.sample_rate
    out = [rng.standard_normal(n) * level for level in (1.0, 0.1, 1e-3, 1e-4)]
    out.append(0.5 * np.sin(2 * np.pi * 440.0 * t))
    click = np.zeros(n)
    click[n // 3: n // 3 + 20] = 0.9
    out += [click, np.zeros(n)]
    return np.stack(out).astype(np.float32)


def _to_onnx_bytes(module, window_samples, *, opset):
    example = torch.zeros(2, window_samples)
    frames = module.frames if isinstance(module, _WindowScores) else False
    outputs = [OUTPUT_NAME] + ([FRAME_OUTPUT_NAME] if frames else [])
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        # the TorchScript exporter: its deprecation notice and tracer warnings about shapes
        # taken as constants (the window length is fixed) are expected
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example,), buf, dynamo=False, opset_version=opset,
                          input_names=[INPUT_NAME], output_names=outputs,
                          dynamic_axes={INPUT_NAME: {0: "batch"},
                                        **{o: {0: "batch"} for o in outputs}},
                          do_constant_folding=True)
    return buf.getvalue()


def _reference_scores(model, windows):
    scores = model.score_windows(windows)
    frames = model.score_frames(windows) if hasattr(model, "score_frames") else None
    return scores, frames


def export_onnx(model, out, *, atol=1e-4, opset=OPSET):
    """Export a trained model to one ONNX file: waveform windows in, window scores out.

    Parameters
    ----------
    model : str, path-like or fitted estimator
        A model file (read with :func:`earmark.load`) or a fitted SoundClassifier,
        SoundTagger or SoundDetector.
    out : str or path-like
        The ``.onnx`` file to write (atomically: an existing file is replaced only by a checked
        export).
    atol : float
        Largest difference allowed between onnxruntime's scores and the model's own on the
        check windows.
    opset : int
        ONNX opset (17 or newer).

    Returns
    -------
    str
        ``out``.

    Raises
    ------
    ParameterError
        A model that cannot be exported (the message says why), or bad arguments.
    EarmarkError
        onnxruntime's scores differ from the model's by more than ``atol`` (nothing is
        written).

    Examples
    --------
    >>> from earmark.export import export_onnx, read_metadata
    >>> export_onnx("drums.earmark", "drums.onnx")     # doctest: +SKIP
    'drums.onnx'
    >>> read_metadata("drums.onnx")["labels"]          # doctest: +SKIP
    ['clap', 'hihat', 'kick', 'snare']
    """
    import onnx

    from .._io import atomic_path, check_output_path

    check_number(atol, "atol", "export_onnx", low=0, closed="neither")
    check_number(opset, "opset", "export_onnx", low=17, high=23, closed="both", integer=True)
    source = None
    if isinstance(model, (str, os.PathLike)):
        source = model
        check_output_path(out, inputs=[(model, "the model file")], owner="out",
                          suffixes=(".onnx",))
        from ..estimators import load
        model = load(model)
    else:
        check_output_path(out, owner="out", suffixes=(".onnx",))
    est = model
    window_model = check_exportable(est)
    fc = window_model.features
    from ..models.neural import NeuralWindowModel
    if isinstance(window_model, NeuralWindowModel):
        data = _to_onnx_bytes(_WindowScores(window_model).eval(), fc.window_samples,
                              opset=opset)
        proto = onnx.load_from_string(data)
    else:
        from .embedding import embedding_graph
        proto = embedding_graph(window_model, opset=opset)
    meta = build_metadata(est, source=source)
    del proto.metadata_props[:]
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key = key
        entry.value = json.dumps(value)
    proto.producer_name = "earmark"
    proto.producer_version = _version()
    proto.doc_string = (f"earmark {est.kind} ({est.task}): waveform windows "
                        f"({fc.sample_rate} Hz, {fc.window_samples} samples, mono float32) in, "
                        f"window scores ({len(est.classes_)} classes: "
                        f"{', '.join(map(str, est.classes_[:8]))}"
                        f"{', ...' if len(est.classes_) > 8 else ''}) out; decision settings "
                        "in metadata_props")
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()
    _check_against_model(data, window_model, fc, atol=atol)
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
    return out


def _check_against_model(data, window_model, fc, *, atol):
    """Run the graph in onnxruntime on :func:`test_windows` and compare with the model."""
    windows = test_windows(fc)
    sess = onnx_session(data)
    got = sess.run(None, {INPUT_NAME: windows})
    want, want_frames = _reference_scores(window_model, windows)
    # one window at a time too: the batch dimension must really be dynamic
    single = sess.run(None, {INPUT_NAME: windows[:1]})[0]
    diffs = {"scores": float(np.max(np.abs(got[0] - want))),
             "scores of a batch of one": float(np.max(np.abs(single - want[:1])))}
    if want_frames is not None:
        diffs["frame scores"] = float(np.max(np.abs(got[1] - want_frames)))
    bad = {k: v for k, v in diffs.items() if not v <= atol}
    if bad:
        raise EarmarkError("ONNX export check failed: onnxruntime's "
                           + ", ".join(f"{k} differ from the model's by {v:.3g}"
                                       for k, v in bad.items())
                           + f" (allowed: {atol:g}); nothing was written")
    return diffs
