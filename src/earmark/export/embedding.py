"""ONNX graphs of embedding recipes: YAMNet with a logistic-regression or MLP head.

An embedding recipe is an embedder (a pretrained network with its own front end) and a
scikit-learn head. It exports when both are graphs: YAMNet is already an ONNX model (the int8
export earmark installs); its front end (:mod:`earmark.models.embeddings.yamnet`: 16 kHz, 400-
sample periodic Hann frames every 160 samples, 512-point magnitude spectrum, 64 HTK mel bands,
``log(mel + 0.001)``, 0.96-s patches) is rebuilt here from matrix products in float64, as NumPy
computes it, so the values YAMNet quantises to 8 bits are the same; the head (standardisation,
then logistic regression or an MLP: matrix products and softmax / sigmoid) is computed in
float64 as :class:`~earmark.models.heads.SavedHead` computes it. Window scores are the patch
embeddings' mean through the head, as :class:`~earmark.models.embedded.EmbeddingWindowModel`
scores them.

A head of decision trees or support vectors (rf, svm), or an embedder that is not YAMNet, is
refused with the reason.
"""

import io
import warnings

import numpy as np
import torch

from ..errors import ModelFileError, ParameterError

__all__ = ["check_embedding_exportable", "embedding_graph", "EXPORTABLE_EMBEDDERS",
           "EXPORTABLE_HEADS"]

#: Embedders whose network and front end export.
EXPORTABLE_EMBEDDERS = ("yamnet",)
#: Heads that are matrix products.
EXPORTABLE_HEADS = ("logreg", "mlp")


def check_embedding_exportable(model):
    """Raise ParameterError naming why the embedding model ``model`` cannot be exported."""
    spec = getattr(model, "embedder_spec", None)
    head = getattr(model, "head_kind", None)
    if spec is None:
        raise ParameterError(f"cannot export a {type(model).__name__} to ONNX: not a model "
                             "earmark knows how to write as a graph")
    recipe = f"embed:{spec}+{head}"
    if spec not in EXPORTABLE_EMBEDDERS:
        raise ParameterError(f"cannot export recipe {recipe!r} to ONNX: of the embedders only "
                             f"{', '.join(EXPORTABLE_EMBEDDERS)} exports (the others' front ends "
                             "or networks are not ONNX graphs here); train a 'cnn' recipe or "
                             "'embed:yamnet+logreg' to export")
    if head not in EXPORTABLE_HEADS:
        raise ParameterError(f"cannot export recipe {recipe!r} to ONNX: a {head!r} head is "
                             "decision trees or support vectors, not a chain of matrix "
                             f"products (heads that export: {', '.join(EXPORTABLE_HEADS)})")
    return model


class _YamnetFrontEnd(torch.nn.Module):
    """Waveform windows (n, samples) at 16 kHz -> YAMNet patches (n * k, 1, 96, 64) float32."""

    def __init__(self, window_samples):
        super().__init__()
        from ..models.embeddings import yamnet as y

        self.total = y.pad_waveform(np.zeros(window_samples)).shape[-1]
        self.pad = self.total - window_samples
        frames = 1 + (self.total - y.STFT_WINDOW_SAMPLES) // y.STFT_HOP_SAMPLES
        starts = np.arange(frames) * y.STFT_HOP_SAMPLES
        self.register_buffer("frame_index", torch.from_numpy(
            starts[:, None] + np.arange(y.STFT_WINDOW_SAMPLES)), persistent=False)
        k = np.arange(y.STFT_WINDOW_SAMPLES)
        bins = np.arange(y.FFT_LENGTH // 2 + 1)
        ang = 2 * np.pi * np.outer(k, bins) / y.FFT_LENGTH      # zero-padded to 512
        hann = y._hann()[:, None]
        self.n_bins = len(bins)
        self.register_buffer("dft", torch.from_numpy(np.hstack([np.cos(ang) * hann,
                                                                -np.sin(ang) * hann])),
                             persistent=False)
        self.register_buffer("mel", torch.from_numpy(np.array(y.mel_matrix())), persistent=False)
        self.log_offset = y.LOG_OFFSET
        patch_starts = np.arange(0, frames - y.PATCH_FRAMES + 1, y.PATCH_HOP_FRAMES)
        self.n_patches = len(patch_starts)
        self.register_buffer("patch_index", torch.from_numpy(
            patch_starts[:, None] + np.arange(y.PATCH_FRAMES)), persistent=False)
        self.n_mels = y.N_MELS

    def forward(self, waveform):
        y = torch.nn.functional.pad(waveform.double(), (0, self.pad))
        z = torch.matmul(y[:, self.frame_index], self.dft)           # (n, frames, 2 bins)
        re, im = z[..., :self.n_bins], z[..., self.n_bins:]
        mel = torch.matmul(torch.sqrt(re * re + im * im), self.mel)
        logmel = torch.log(mel + self.log_offset).float()             # (n, frames, 64)
        p = logmel[:, self.patch_index]                                # (n, k, 96, 64)
        return p.reshape(-1, 1, p.shape[-2], self.n_mels)


def _front_end_model(window_samples, opset):
    import onnx

    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(_YamnetFrontEnd(window_samples).eval(),
                          (torch.zeros(2, window_samples),), buf, dynamo=False,
                          opset_version=opset, input_names=["waveform"],
                          output_names=["patches"],
                          dynamic_axes={"waveform": {0: "batch"}, "patches": {0: "patches"}})
    return onnx.load_from_string(buf.getvalue())


class _Graph:
    """Nodes and initialisers of the head, named under one prefix."""

    def __init__(self, prefix):
        self.prefix, self.nodes, self.inits, self.count = prefix, [], [], 0

    def name(self, what):
        self.count += 1
        return f"{self.prefix}{what}_{self.count}"

    def const(self, value, what="c"):
        from onnx import numpy_helper
        name = self.name(what)
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type, inputs, **attrs):
        from onnx import helper
        out = self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=out, **attrs))
        return out


def _head_probs(g, head, x):
    """Append the nodes of a SavedHead's predict_proba; returns the (n, n_head_classes) float64
    output name. ``x`` is the float32 embedding."""
    from onnx import TensorProto

    a = head.arrays
    if head.config.get("scaler"):
        # StandardScaler.transform in the input's dtype (float32), as SavedHead does
        x = g.op("Sub", [x, g.const(a["scaler.mean"].astype(np.float32), "mean")])
        x = g.op("Div", [x, g.const(a["scaler.scale"].astype(np.float32), "scale")])
    x = g.op("Cast", [x], to=TensorProto.DOUBLE)
    if head.kind == "logreg":
        coef = np.asarray(a["logreg.coef"], np.float64)
        d = g.op("Add", [g.op("MatMul", [x, g.const(np.ascontiguousarray(coef.T), "coef")]),
                         g.const(np.asarray(a["logreg.intercept"], np.float64), "intercept")])
        if coef.shape[0] > 1:
            return g.op("Softmax", [d], axis=-1)
        out_activation = "logistic"
    else:
        m = head.config["mlp"]
        hidden = {"relu": "Relu", "tanh": "Tanh", "logistic": "Sigmoid", "identity": None}
        if m["activation"] not in hidden:
            raise ParameterError(f"cannot export an MLP head with activation "
                                 f"{m['activation']!r}")
        d = x
        for i in range(m["n_layers"]):
            d = g.op("MatMul", [d, g.const(np.asarray(a[f"mlp.coef.{i}"], np.float64), "w")])
            d = g.op("Add", [d, g.const(np.asarray(a[f"mlp.intercept.{i}"], np.float64), "b")])
            if i != m["n_layers"] - 1 and hidden[m["activation"]]:
                d = g.op(hidden[m["activation"]], [d])
        out_activation = m["out_activation"]
        if out_activation == "softmax":
            return g.op("Softmax", [d], axis=-1)
        if out_activation != "logistic":
            raise ModelFileError(f"MLP head with unknown output activation {out_activation!r}")
    p = g.op("Sigmoid", [d])                                           # (n, 1): class 1
    return g.op("Concat", [g.op("Sub", [g.const(np.ones(1), "one"), p]), p], axis=1)


def _head_model(model, opset, ir_version):
    """The head as an ONNX model: 'embedding' (n, dim) float32 -> 'scores' (n, n_classes)."""
    from onnx import TensorProto, helper

    g = _Graph("head/")
    n = model.n_classes
    if model.task == "tagging":
        columns = []
        for h in model.head_:
            if isinstance(h, float):        # a class on every training clip or on none
                zero = g.op("ReduceSum", ["embedding", g.const(np.array([1], np.int64))],
                            keepdims=1)
                zero = g.op("Mul", [g.op("Cast", [zero], to=TensorProto.DOUBLE),
                                    g.const(np.zeros(1), "zero")])
                columns.append(g.op("Add", [zero, g.const(np.array([h], np.float64))]))
                continue
            p = _head_probs(g, h, "embedding")
            place = np.zeros((len(h.classes_), 1))
            place[list(h.classes_.astype(np.int64)).index(1), 0] = 1.0
            columns.append(g.op("MatMul", [p, g.const(place, "place")]))
        probs = g.op("Concat", columns, axis=1)
    else:
        p = _head_probs(g, model.head_, "embedding")
        place = np.zeros((len(model.head_.classes_), n))
        place[np.arange(len(model.head_.classes_)), model.head_.classes_.astype(np.int64)] = 1
        probs = g.op("MatMul", [p, g.const(place, "place")])
    g.nodes.append(helper.make_node("Cast", [probs], ["scores"], to=TensorProto.FLOAT,
                                    name="head/scores"))
    graph = helper.make_graph(
        g.nodes, "earmark_head",
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", None])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", n])],
        initializer=g.inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                             ir_version=ir_version)


def embedding_graph(model, *, opset):
    """The ONNX graph of an exportable embedding model: 'waveform' (batch, window_samples)
    float32 -> 'scores' (batch, n_classes) float32."""
    import onnx
    from onnx import TensorProto, compose, helper

    from ..models.embeddings.install import model_file, sha256_file
    from ..models.embeddings.yamnet import EMBEDDING_NAME, INPUT_NAME

    check_embedding_exportable(model)
    path = model_file("yamnet")
    if sha256_file(path) != getattr(model.embedder, "model_sha256", None):
        raise ModelFileError(f"{path}: the installed YAMNet is not the one this model's "
                             "embedder loaded; reinstall it")
    yamnet = onnx.load(str(path))
    yam_opset = {o.domain: o.version for o in yamnet.opset_import}.get("", opset)
    fe = _front_end_model(model.features.window_samples, yam_opset)
    fe.ir_version = yamnet.ir_version
    fe = compose.add_prefix(fe, "frontend/", rename_inputs=False)
    yamnet = compose.add_prefix(yamnet, "yamnet/")
    merged = compose.merge_models(fe, yamnet, io_map=[("frontend/patches",
                                                       "yamnet/" + INPUT_NAME)],
                                  outputs=["yamnet/" + EMBEDDING_NAME])
    # the mean of each window's patch embeddings (one patch for YAMNet's 0.96-s window)
    k = _YamnetFrontEnd(model.features.window_samples).n_patches
    g = merged.graph
    shape = onnx.numpy_helper.from_array(np.array([-1, k, model.embedder.dim], np.int64),
                                         "pool/shape")
    g.initializer.append(shape)
    g.node.extend([
        helper.make_node("Reshape", ["yamnet/" + EMBEDDING_NAME, "pool/shape"],
                         ["pool/per_window"], name="pool/reshape"),
        helper.make_node("ReduceMean", ["pool/per_window"], ["pool/embedding"], axes=[1],
                         keepdims=0, name="pool/mean") if yam_opset < 18 else
        helper.make_node("ReduceMean", ["pool/per_window", "pool/axes"], ["pool/embedding"],
                         keepdims=0, name="pool/mean")])
    if yam_opset >= 18:
        g.initializer.append(onnx.numpy_helper.from_array(np.array([1], np.int64),
                                                          "pool/axes"))
    del g.output[:]
    g.output.append(helper.make_tensor_value_info("pool/embedding", TensorProto.FLOAT,
                                                  ["batch", model.embedder.dim]))
    head = _head_model(model, yam_opset, yamnet.ir_version)
    return compose.merge_models(merged, head, io_map=[("pool/embedding", "embedding")])
