"""BirdNET: adding an intermediate tensor as an output of a TFLite flatbuffer (on a tiny model
built here) and, when BirdNET is installed, the embedder itself."""

import numpy as np
import pytest

from earmark.errors import ModelFileError
from earmark.models.embeddings import ModelNotInstalledError, fit_to_length, get_embedder
from earmark.models.embeddings import birdnet as B

litert = pytest.importorskip("ai_edge_litert")


def _tiny_tflite():
    """INPUT (n, 4) -> ADD(x, x) = 'model/GLOBAL_AVG_POOL/Mean' -> ADD(m, m) = 'Identity'."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as s

    def tensor(name):
        t = s.TensorT()
        t.name, t.shape, t.shapeSignature = name, [1, 4], [-1, 4]
        t.type, t.buffer = s.TensorType.FLOAT32, 0
        return t

    def add(a, out):
        op = s.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = 0, [a, a], [out]
        op.builtinOptionsType, op.builtinOptions = s.BuiltinOptions.AddOptions, s.AddOptionsT()
        return op

    code = s.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = s.BuiltinOperator.ADD
    code.version = 1
    sg = s.SubGraphT()
    sg.tensors = [tensor("INPUT"), tensor(B.EMBEDDING_TENSOR), tensor("Identity")]
    sg.inputs, sg.outputs, sg.operators = [0], [2], [add(0, 1), add(1, 2)]
    model = s.ModelT()
    model.version, model.operatorCodes, model.subgraphs = 3, [code], [sg]
    model.buffers = [s.BufferT()]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _run(model_bytes, x):
    from ai_edge_litert.interpreter import Interpreter
    it = Interpreter(model_content=model_bytes)
    it.resize_tensor_input(0, list(x.shape))
    it.allocate_tensors()
    it.set_tensor(0, x)
    it.invoke()
    return [it.get_tensor(o["index"]) for o in it.get_output_details()]


def test_added_output_returns_the_intermediate_tensor():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    before = _run(_tiny_tflite(), x)
    assert len(before) == 1
    after = _run(B.add_tflite_output(_tiny_tflite(), B.EMBEDDING_TENSOR), x)
    assert len(after) == 2
    np.testing.assert_array_equal(after[0], 4 * x)        # the original output is unchanged
    np.testing.assert_array_equal(after[1], 2 * x)        # the tensor in the middle


def test_adding_twice_changes_nothing_and_bad_inputs_are_refused():
    once = B.add_tflite_output(_tiny_tflite(), B.EMBEDDING_TENSOR)
    twice = B.add_tflite_output(once, B.EMBEDDING_TENSOR)
    assert len(_run(twice, np.ones((1, 4), np.float32))) == 2
    with pytest.raises(ModelFileError, match="no tensor named 'nope'"):
        B.add_tflite_output(_tiny_tflite(), "nope")
    with pytest.raises(ModelFileError, match="TFL3"):
        B.add_tflite_output(b"\x00" * 64, B.EMBEDDING_TENSOR)


def test_fit_to_length_pads_and_cuts_like_analysis_windows():
    x = np.arange(10, dtype=np.float32)[None]
    p, owner = fit_to_length(x, 4, 2)
    assert [r.tolist() for r in p] == [[0, 1, 2, 3], [2, 3, 4, 5], [4, 5, 6, 7], [6, 7, 8, 9]]
    assert owner.tolist() == [0, 0, 0, 0]
    p, owner = fit_to_length(x, 4, 3)         # hops stop at 3; one more piece flush with the end
    assert [r[0] for r in p] == [0, 3, 6]
    p, _ = fit_to_length(x[:, :3], 4, 2)
    assert p.tolist() == [[0, 1, 2, 0]]


@pytest.fixture(scope="module")
def birdnet():
    try:
        return get_embedder("birdnet", num_threads=2)
    except ModelNotInstalledError as exc:
        pytest.skip(f"BirdNET is not installed here ({exc})")


def test_birdnet_embeddings(birdnet, rng):
    assert (birdnet.sample_rate, birdnet.window_s, birdnet.dim) == (48000, 3.0, 1024)
    assert "CC BY-NC-SA 4.0" in birdnet.licence and "non-commercial" in birdnet.licence
    t = np.arange(144000) / 48000
    tone = 0.3 * np.sin(2 * np.pi * 3000 * t)
    tone2 = 0.3 * np.sin(2 * np.pi * 3000 * t + 1.0)
    noise = 0.3 * rng.standard_normal(144000)
    noise2 = 0.3 * rng.standard_normal(144000)
    w = np.stack([tone, tone2, noise, noise2]).astype(np.float32)
    e = birdnet.embed(w, batch_size=3)
    assert e.shape == (4, 1024) and e.dtype == np.float32
    np.testing.assert_allclose(e, np.concatenate([birdnet.embed(w[i:i + 1]) for i in range(4)]),
                               rtol=1e-5, atol=1e-6)
    n = e / np.linalg.norm(e, axis=1, keepdims=True)
    cos = n @ n.T
    assert cos[2, 3] > 0.9                                  # two draws of white noise
    assert cos[0, 1] > max(cos[0, 2], cos[1, 2]) + 0.1      # one tone, two phases
    # a 4.5 s window is two 3 s pieces (0-3 s and 1.5-4.5 s): the mean of their embeddings
    long = np.concatenate([w[2], w[0][:72000]])
    both = birdnet.embed(np.stack([long[:144000], long[72000:]]))
    np.testing.assert_allclose(birdnet.embed(long[None])[0], both.mean(axis=0), rtol=1e-5,
                               atol=1e-6)
    assert len(birdnet.class_names) == 6522
    assert birdnet.class_scores(w[:1]).shape == (1, 6522)
