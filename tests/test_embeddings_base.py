"""get_embedder and the Embedder contract, checked on every embedder available here."""

import json

import numpy as np
import pytest
import torch

from earmark.errors import ParameterError
from earmark.models.embeddings import EMBEDDERS, ModelNotInstalledError, get_embedder


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("name", EMBEDDERS)
def test_contract(name, rng):
    try:
        emb = get_embedder(name)
    except ModelNotInstalledError as exc:
        pytest.skip(f"{name} is not installed here ({exc})")
    assert emb.name == name and emb.dim > 0 and emb.licence
    assert emb.window_samples == round(emb.window_s * emb.sample_rate)
    settings = emb.settings()
    assert json.loads(json.dumps(settings)) == settings
    assert settings["sample_rate"] == emb.sample_rate and settings["dim"] == emb.dim
    x = (0.1 * rng.standard_normal((3, emb.window_samples))).astype(np.float32)
    e = emb.embed(x, batch_size=2)
    assert e.shape == (3, emb.dim) and e.dtype == np.float32 and np.isfinite(e).all()
    np.testing.assert_allclose(e, emb.embed(x), rtol=1e-5, atol=1e-5)
    assert emb.embed(x[0]).shape == (1, emb.dim)          # one window as a 1-D array


def test_bad_input_is_refused_with_the_shape():
    emb = get_embedder("classic")
    with pytest.raises(ParameterError, match=r"\(n, samples\).*\(2, 3, 4\)"):
        emb.embed(np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ParameterError, match="NaN"):
        emb.embed(np.full((1, 22050), np.nan, np.float32))
    with pytest.raises(ParameterError, match="float audio"):
        emb.embed(np.zeros((1, 22050), np.int16))
    with pytest.raises(ParameterError, match="batch_size"):
        emb.embed(np.zeros((1, 22050), np.float32), batch_size=0)


def test_unknown_name():
    with pytest.raises(ParameterError, match="'yamnet', 'birdnet'.*'onnx:PATH'"):
        get_embedder("vggish")
    with pytest.raises(ParameterError, match="needs a path"):
        get_embedder("onnx:")


def test_efficientnet_embedder_uses_earmark_log_mel(rng):
    try:
        emb = get_embedder("efficientnet")
    except ModelNotInstalledError as exc:
        pytest.skip(f"efficientnet is not installed here ({exc})")
    from earmark.features import FeatureExtractor
    x = (0.1 * rng.standard_normal((2, 32000))).astype(np.float32)
    with torch.no_grad():
        expected = emb.net.features(FeatureExtractor(emb.features)(torch.from_numpy(x)))
    np.testing.assert_allclose(emb.embed(x), expected.numpy(), rtol=1e-5, atol=1e-5)
    assert emb.features.n_mels == 128 and emb.features.hop_length == 320
