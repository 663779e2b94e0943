"""Your own embedding model: any ONNX export (PANNs, VGGish, OpenL3, ...) plus a small JSON config.

``--embedding onnx:PATH/model.onnx`` reads ``PATH/model.json`` (or ``PATH/model.onnx.json``)
beside it. The config says what the graph expects and which output is the embedding::

    {
      "sample_rate": 32000,            # Hz of the audio the model takes (required)
      "window_s": 1.0,                 # natural window, seconds (required)
      "hop_s": 0.5,                    # default window_s / 2
      "input_name": "waveform",        # default: the graph's first input
      "output_name": "embedding",      # default: the graph's first output
      "front_end": {"kind": "waveform"},
      "pooling": "mean",               # outputs with more than 2 axes: mean or max over the
                                       # middle axes (time); "none" refuses them
      "licence": "MIT (PANNs)"         # stored in every model trained on it
    }

``front_end`` is either ``{"kind": "waveform"}``: the graph takes (batch, samples) float32
audio, or a log-mel front end computed with librosa::

    {"kind": "logmel", "n_fft": 512, "hop_length": 160, "win_length": 400, "n_mels": 64,
     "fmin": 125, "fmax": 7500, "mel_scale": "htk" | "slaney", "mel_norm": "slaney" | null,
     "power": 1.0 | 2.0, "center": false, "log": "log" | "db", "log_offset": 0.01,
     "layout": "n,1,frames,mels"}

``log: "log"`` is ``ln(mel + log_offset)``; ``"db"`` is ``10 log10(max(mel, log_offset))``.
``layout`` is one of "n,mels,frames", "n,frames,mels", "n,1,mels,frames", "n,1,frames,mels".
A graph whose batch axis is fixed at 1 is run one window at a time.
"""

import copy
import json
import os
from pathlib import Path

import numpy as np

from ...errors import ModelFileError, ParameterError
from .base import Embedder
from .install import sha256_file

__all__ = ["OnnxEmbedder", "load_config", "LAYOUTS"]

LAYOUTS = ("n,mels,frames", "n,frames,mels", "n,1,mels,frames", "n,1,frames,mels")
_TOP_KEYS = {"sample_rate", "window_s", "hop_s", "input_name", "output_name", "front_end",
             "pooling", "licence"}
_LOGMEL_KEYS = {"kind", "n_fft", "hop_length", "win_length", "n_mels", "fmin", "fmax",
                "mel_scale", "mel_norm", "power", "center", "log", "log_offset", "layout"}
_LOGMEL_DEFAULTS = {"win_length": None, "fmin": 0.0, "fmax": None, "mel_scale": "slaney",
                    "mel_norm": "slaney", "power": 2.0, "center": True, "log": "db",
                    "log_offset": 1e-10, "layout": "n,1,mels,frames"}


def _config_path(model_path):
    p = Path(model_path)
    for c in (p.with_suffix(".json"), Path(os.fspath(p) + ".json")):
        if c.is_file():
            return c
    raise ParameterError(
        f"{p}: no config for this ONNX model; write {p.with_suffix('.json')} with at least "
        '{"sample_rate": 16000, "window_s": 1.0} (see earmark.models.embeddings.onnx_custom).')


def _bad(where, msg):
    raise ParameterError(f"{where}: {msg}")


def load_config(config, *, where="ONNX embedding config"):
    """Validate a config dict (or read a JSON file) and fill in the defaults."""
    if not isinstance(config, dict):
        where = os.fspath(config)
        try:
            config = json.loads(Path(config).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            _bad(where, f"cannot read the JSON config ({exc})")
        if not isinstance(config, dict):
            _bad(where, "the config must be a JSON object")
    c = copy.deepcopy(config)
    unknown = set(c) - _TOP_KEYS
    if unknown:
        _bad(where, f"unknown keys {sorted(unknown)}; known keys are {sorted(_TOP_KEYS)}")
    for key in ("sample_rate", "window_s"):
        if key not in c:
            _bad(where, f"{key!r} is required")
    if not isinstance(c["sample_rate"], int) or not 1000 <= c["sample_rate"] <= 384000:
        _bad(where, f"'sample_rate' must be an int in [1000, 384000]. Got {c['sample_rate']!r}")
    for key in ("window_s", "hop_s"):
        v = c.get(key, c["window_s"] / 2 if key == "hop_s" else None)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 600:
            _bad(where, f"{key!r} must be a float in (0, 600]. Got {v!r}")
        c[key] = float(v)
    c.setdefault("input_name", None)
    c.setdefault("output_name", None)
    c.setdefault("pooling", "mean")
    c.setdefault("licence", "unknown (user-supplied ONNX model)")
    if c["pooling"] not in ("mean", "max", "none"):
        _bad(where, f"'pooling' must be one of 'mean', 'max', 'none'. Got {c['pooling']!r}")
    fe = c.setdefault("front_end", {"kind": "waveform"})
    if not isinstance(fe, dict) or fe.get("kind") not in ("waveform", "logmel"):
        _bad(where, "'front_end' must be {\"kind\": \"waveform\"} or {\"kind\": \"logmel\", ...}")
    if fe["kind"] == "waveform":
        if set(fe) != {"kind"}:
            extra = sorted(set(fe) - {"kind"})
            _bad(where, f"the waveform front end takes no settings; got {extra}")
    else:
        unknown = set(fe) - _LOGMEL_KEYS
        if unknown:
            _bad(where, f"unknown front_end keys {sorted(unknown)}; known keys are "
                        f"{sorted(_LOGMEL_KEYS)}")
        for key in ("n_fft", "hop_length", "n_mels"):
            if not isinstance(fe.get(key), int) or fe[key] < 1:
                _bad(where, f"front_end {key!r} is required (a positive int)")
        for key, value in _LOGMEL_DEFAULTS.items():
            fe.setdefault(key, value)
        choices = {"mel_scale": ("slaney", "htk"), "mel_norm": ("slaney", None),
                   "log": ("db", "log"), "layout": LAYOUTS, "power": (1.0, 2.0),
                   "center": (True, False)}
        for key, allowed in choices.items():
            if fe[key] not in allowed:
                _bad(where, f"front_end {key!r} must be one of {list(allowed)}. Got {fe[key]!r}")
        if not fe["log_offset"] > 0:
            _bad(where, f"front_end 'log_offset' must be > 0. Got {fe['log_offset']!r}")
    return c


def logmel_front_end(windows, fe, sample_rate):
    """The configured log-mel of (n, samples) audio, laid out as ``fe['layout']``."""
    import librosa

    mel = librosa.feature.melspectrogram(
        y=np.asarray(windows, np.float32), sr=sample_rate, n_fft=fe["n_fft"],
        hop_length=fe["hop_length"], win_length=fe["win_length"], window="hann",
        center=fe["center"], pad_mode="constant", power=fe["power"], n_mels=fe["n_mels"],
        fmin=fe["fmin"], fmax=fe["fmax"], htk=fe["mel_scale"] == "htk", norm=fe["mel_norm"])
    if fe["log"] == "log":
        out = np.log(mel + fe["log_offset"])
    else:
        out = 10.0 * np.log10(np.maximum(mel, fe["log_offset"]))
    if "frames,mels" in fe["layout"]:
        out = np.swapaxes(out, -1, -2)
    if fe["layout"].startswith("n,1,"):
        out = out[:, None]
    return np.ascontiguousarray(out, dtype=np.float32)


class OnnxEmbedder(Embedder):
    """Embeddings from a user's ONNX model, run with onnxruntime.

    Parameters
    ----------
    path : path-like
        The ``.onnx`` file.
    config : dict, path-like or None
        The config (see the module docstring); None reads ``<model>.json`` beside the model.
    num_threads : int or None
        onnxruntime intra-op threads (None: one per core).

    Examples
    --------
    >>> emb = OnnxEmbedder("panns_cnn14.onnx")  # reads panns_cnn14.json  # doctest: +SKIP
    >>> emb.embed(windows).shape  # doctest: +SKIP
    (10, 2048)
    """

    default_batch_size = 16

    def __init__(self, path, *, config=None, num_threads=None):
        import onnxruntime as ort

        self.path = Path(path).expanduser()
        if not self.path.is_file():
            raise ModelFileError(f"{self.path}: ONNX model file not found")
        self.config = load_config(config if config is not None else _config_path(self.path))
        c = self.config
        self.name = f"onnx:{self.path.name}"
        self.sample_rate = c["sample_rate"]
        self.window_s = c["window_s"]
        self.hop_s = c["hop_s"]
        self.licence = c["licence"]
        self.model_sha256 = sha256_file(self.path)
        so = ort.SessionOptions()
        so.log_severity_level = 3
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if num_threads:
            so.intra_op_num_threads = int(num_threads)
        try:
            self._session = ort.InferenceSession(os.fspath(self.path), so,
                                                 providers=["CPUExecutionProvider"])
        except Exception as exc:   # onnxruntime raises its own exception types
            raise ModelFileError(f"{self.path}: onnxruntime cannot load it: {exc}") from None
        inputs = {i.name: i for i in self._session.get_inputs()}
        outputs = {o.name: o for o in self._session.get_outputs()}
        self._input = c["input_name"] or next(iter(inputs))
        self._output = c["output_name"] or next(iter(outputs))
        if self._input not in inputs:
            raise ModelFileError(f"{self.path}: no input named {self._input!r}; inputs are "
                                 f"{list(inputs)}")
        if self._output not in outputs:
            raise ModelFileError(f"{self.path}: no output named {self._output!r}; outputs are "
                                 f"{list(outputs)}")
        batch = inputs[self._input].shape[0] if inputs[self._input].shape else None
        self._one_at_a_time = batch == 1
        # the output size, from a run on silence (output shapes are often symbolic)
        self.dim = int(self._run(np.zeros((1, self.window_samples), np.float32)).shape[1])

    def settings(self):
        s = super().settings()
        s.update(model_sha256=self.model_sha256, config=self.config)
        return s

    def _model_input(self, x):
        fe = self.config["front_end"]
        if fe["kind"] == "waveform":
            return x
        return logmel_front_end(x, fe, self.sample_rate)

    def _session_run(self, feed):
        try:
            return self._session.run([self._output], {self._input: feed})[0]
        except Exception as exc:   # onnxruntime's own exception types
            detail = " ".join(str(exc).split())[:400]
            raise ModelFileError(
                f"{self.path}: onnxruntime failed on input {self._input!r} of shape "
                f"{tuple(feed.shape)}; check window_s and the front end in its config. "
                f"({detail})") from None

    def _run(self, x):
        feed = self._model_input(x)
        if self._one_at_a_time:
            out = np.concatenate([self._session_run(feed[i:i + 1]) for i in range(len(feed))])
        else:
            out = self._session_run(feed)
        out = np.asarray(out, np.float32)
        if out.ndim > 2:
            pooling = self.config["pooling"]
            if pooling == "none":
                raise ModelFileError(f"{self.path}: output {self._output!r} has shape "
                                     f"{out.shape}; set \"pooling\": \"mean\" or \"max\"")
            axes = tuple(range(1, out.ndim - 1))
            out = out.mean(axis=axes) if pooling == "mean" else out.max(axis=axes)
        if out.ndim != 2 or len(out) != len(x):
            raise ModelFileError(f"{self.path}: output {self._output!r} has shape {out.shape}; "
                                 f"expected ({len(x)}, dim)")
        return out

    def _embed_batch(self, x):
        return self._run(x)
