"""LiteRT (TensorFlow Lite) export: the same waveform-in, scores-out model as a ``.tflite`` file.

The graph is the one :mod:`earmark.export.onnx` exports (the matrix-product front end,
normalisation, network, activation), converted by ``litert-torch`` (Google's PyTorch-to-LiteRT
converter) and checked with ``ai-edge-litert``'s interpreter against the model's own scores
before it is written. ``int8=True`` also writes ``<name>.int8.tflite``, the network's weights
quantised to int8 by ``ai-edge-quantizer`` (dynamic range: activations stay float; the front end
stays float, see :data:`INT8_OPERATIONS`), and measures how far its scores move.

``litert-torch`` is optional and heavy (it brings jax, transformers, torchao): install it with
``pip install "litert-torch==0.10.0"`` (0.10.0 accepts earmark's pinned torch 2.13.0). The
interpreter takes a fixed batch (``batch``, default 1: one window per call, as on a phone or a
microcontroller); the earmark metadata (labels, sample rate, windows, aggregation, thresholds)
is written beside the model as ``<name>.tflite.json``.
"""

import json
import os

import numpy as np
import torch

from .._validation import check_number
from ..errors import EarmarkError, ParameterError

__all__ = ["export_litert", "litert_interpreter", "run_litert", "LITERT_REQUIREMENT"]

#: What to install for LiteRT export.
LITERT_REQUIREMENT = "litert-torch==0.10.0"


def _import_converter():
    try:
        import litert_torch
    except ImportError:
        raise ParameterError(
            "LiteRT export needs the litert-torch converter, which is not installed: pip "
            f"install \"{LITERT_REQUIREMENT}\" (it accepts earmark's torch 2.13.0; it pulls in "
            "jax, transformers and torchao). Or export to ONNX (--format onnx), which needs "
            "nothing more.") from None
    return litert_torch


def litert_interpreter(model_content):
    """An ``ai_edge_litert`` interpreter of a ``.tflite`` file's bytes (or path)."""
    from ai_edge_litert.interpreter import Interpreter

    if isinstance(model_content, (str, os.PathLike)):
        it = Interpreter(model_path=os.fspath(model_content), num_threads=1)
    else:
        it = Interpreter(model_content=bytes(model_content), num_threads=1)
    it.allocate_tensors()
    return it


def run_litert(interpreter, windows):
    """Window scores (n, n_classes) of waveform windows, in the interpreter's fixed batch (the
    last batch zero-padded)."""
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    batch = int(inp["shape"][0])
    windows = np.asarray(windows, np.float32)
    scores = []
    for i in range(0, len(windows), batch):
        part = windows[i:i + batch]
        if len(part) < batch:
            part = np.concatenate([part, np.zeros((batch - len(part),) + part.shape[1:],
                                                  np.float32)])
        interpreter.set_tensor(inp["index"], part)
        interpreter.invoke()
        scores.append(np.array(interpreter.get_tensor(out["index"]))[:len(windows) - i])
    return np.concatenate(scores)


#: The operators whose weights the int8 variant quantises: the network's. The front end's
#: matrix products (DFT, mel, DCT) stay float: quantised, their constants would move the dB
#: values of quiet bands by whole decibels, and the interpreter's BATCH_MATMUL takes no int8
#: left operand.
INT8_OPERATIONS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def _int8(content):
    from ai_edge_quantizer import quantizer, recipe

    base = recipe.dynamic_wi8_afp32()[0]
    rules = [{**base, "operation": op} for op in INT8_OPERATIONS]
    qt = quantizer.Quantizer(bytes(content), rules)
    return bytes(qt.quantize().quantized_model)


def export_litert(model, out, *, atol=1e-4, int8=False, batch=1, check_windows=None):
    """Export a trained model to a LiteRT ``.tflite`` file (and its int8 variant).

    Parameters
    ----------
    model : str, path-like or fitted estimator
        A model file or a fitted SoundClassifier / SoundTagger / SoundDetector of a torch
        recipe.
    out : str or path-like
        The ``.tflite`` file to write (atomically; the metadata goes to ``out + '.json'``).
    atol : float
        Largest score difference to the model allowed on the check windows.
    int8 : bool
        Also write ``<name>.int8.tflite`` with int8 weights; its score change is reported, not
        limited.
    batch : int
        The model's fixed batch size.
    check_windows : array (n, window_samples) or None
        Windows to check on (default: noise at several levels, a tone, a click, silence).

    Returns
    -------
    dict
        ``path``, ``max_abs_diff``, ``n_windows``; with ``int8``: ``int8_path``,
        ``int8_max_abs_diff``, ``int8_top_agreement`` (share of check windows whose top class
        is the float model's).

    Raises
    ------
    ParameterError
        litert-torch is not installed, or the model cannot be exported (as for ONNX).
    EarmarkError
        The converted model's scores differ from the model's by more than ``atol``.

    Examples
    --------
    >>> from earmark.export.litert import export_litert
    >>> export_litert("drums.earmark", "drums.tflite", int8=True)   # doctest: +SKIP
    {'path': 'drums.tflite', 'max_abs_diff': 2.9e-07, ...}
    """
    from .._io import atomic_path, check_output_path
    from ..models.neural import NeuralWindowModel
    from .onnx import _WindowScores, build_metadata, check_exportable, test_windows

    check_number(atol, "atol", "export_litert", low=0, closed="neither")
    check_number(batch, "batch", "export_litert", low=1, high=4096, closed="both",
                 integer=True)
    source = None
    if isinstance(model, (str, os.PathLike)):
        source = model
        check_output_path(out, inputs=[(model, "the model file")], owner="out",
                          suffixes=(".tflite",))
        from ..estimators import load
        model = load(model)
    else:
        check_output_path(out, owner="out", suffixes=(".tflite",))
    window_model = check_exportable(model)
    if not isinstance(window_model, NeuralWindowModel):
        raise ParameterError("LiteRT export takes the torch recipes ('cnn', "
                             "'transfer:efficientnet', detectors' CRNN); export embedding "
                             "recipes to ONNX")
    litert_torch = _import_converter()
    fc = window_model.features
    # one output, the window scores (a CRNN's frame scores are ONNX's second output only)
    module = _ScoresOnly(_WindowScores(window_model)).eval()
    with torch.no_grad():
        edge = litert_torch.convert(module, (torch.zeros(batch, fc.window_samples),))
    content = edge.model_content
    content = bytes(content() if callable(content) else content)
    windows = test_windows(fc) if check_windows is None else np.asarray(check_windows,
                                                                         np.float32)
    want = window_model.score_windows(windows)
    got = run_litert(litert_interpreter(content), windows)
    diff = float(np.max(np.abs(got - want)))
    if not diff <= atol:
        raise EarmarkError(f"LiteRT export check failed: the interpreter's scores differ from "
                           f"the model's by {diff:.3g} (allowed: {atol:g}); nothing was written")
    report = {"path": os.fspath(out), "max_abs_diff": diff, "n_windows": int(len(windows))}
    files = {os.fspath(out): content}
    if int8:
        q = _int8(content)
        got8 = run_litert(litert_interpreter(q), windows)
        base = os.fspath(out)[:-len(".tflite")]
        report.update(int8_path=base + ".int8.tflite",
                      int8_max_abs_diff=float(np.max(np.abs(got8 - want))),
                      int8_top_agreement=float(np.mean(got8.argmax(1) == want.argmax(1))),
                      int8_bytes=len(q), float_bytes=len(content))
        files[report["int8_path"]] = q
    meta = build_metadata(model, source=source)
    meta.update(format="earmark.litert", input={"shape": [batch, int(fc.window_samples)],
                                                "dtype": "float32", "channels": "mono",
                                                "sample_rate": int(fc.sample_rate)})
    meta["outputs"] = {"scores": [batch, len(model.classes_)]}
    files[os.fspath(out) + ".json"] = json.dumps(meta, indent=1).encode()
    for path, data in files.items():
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                f.write(data)
    return report


class _ScoresOnly(torch.nn.Module):
    """The window scores of :class:`~earmark.export.onnx._WindowScores` (one output)."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, waveform):
        out = self.inner(waveform)
        return out[0] if isinstance(out, tuple) else out
