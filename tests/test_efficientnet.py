"""EfficientNet-Lite0: architecture, TF 'SAME' padding, the dB -> pixel mapping and, when the
ImageNet weights are installed, a real image classified correctly."""

import numpy as np
import pytest
import torch

from earmark.errors import ModelFileError, ParameterError
from earmark.models.efficientnet import EfficientNetLite0, _SameConv, load_imagenet_state_dict
from earmark.models.embeddings import ModelNotInstalledError


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_parameter_count_is_lite0():
    # 4.65 M parameters (the ImageNet classifier included), as the TF model card says
    assert sum(p.numel() for p in EfficientNetLite0().parameters()) == 4_652_008
    assert sum(p.numel() for p in EfficientNetLite0(num_classes=3).parameters()) == \
        4_652_008 - 1000 * 1281 + 3 * 1281


@pytest.mark.parametrize("size, out", [(7, 4), (8, 4), (9, 5), (224, 112)])
def test_same_padding_gives_ceil_and_pads_bottom_right(size, out):
    conv = _SameConv(1, 1, 3, stride=2, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
        y = conv(torch.ones(1, 1, size, size))
    assert y.shape[-2:] == (out, out)
    # even size: TF pads 0 rows on top and 1 at the bottom, so the first output row sees
    # 3 full rows (3 x 3 = 9) and the last sees 2 (6); odd size pads 1 on each side
    first, last = float(y[0, 0, 0, 1]), float(y[0, 0, -1, 1])
    assert (first, last) == ((9.0, 6.0) if size % 2 == 0 else (6.0, 6.0))


def test_preprocess_maps_peak_to_one_and_80_db_below_to_the_floor():
    net = EfficientNetLite0()
    db = torch.tensor([0.0, -40.0, -80.0, -120.0]).view(1, 1, 1, 4) - 3.0
    x = net.preprocess(db)
    assert x.shape == (1, 3, 1, 4)
    expected = (np.array([1.0, 0.5, 0.0, 0.0]) * 255 - 127) / 128
    np.testing.assert_allclose(x[0, 0, 0].numpy(), expected, rtol=1e-6)
    assert torch.equal(x[:, 0], x[:, 2])
    with pytest.raises(ParameterError, match="n_mels, frames"):
        net.preprocess(torch.zeros(2, 64, 44))


def test_shapes_and_frozen_features_are_deterministic():
    torch.manual_seed(0)
    net = EfficientNetLite0(num_classes=5).eval()
    x = torch.randn(2, 1, 128, 101) * 10 - 40
    with torch.no_grad():
        f = net.features(x)
        assert f.shape == (2, 1280) and net(x).shape == (2, 5)
        assert torch.equal(f, net.features(x))
        assert net.feature_map(net.preprocess(x)).shape == (2, 1280, 4, 4)


def test_state_dict_names_match_the_pip_package():
    keys = set(EfficientNetLite0().state_dict())
    assert len(keys) == 296
    for k in ("_conv_stem.weight", "_bn0.running_var", "_blocks.0._depthwise_conv.weight",
              "_blocks.15._project_conv.weight", "_conv_head.weight", "_fc.bias"):
        assert k in keys
    assert "_blocks.0._expand_conv.weight" not in keys     # expand ratio 1: no expansion


def test_missing_weights_name_the_install_command(tmp_path, monkeypatch):
    import earmark.models.efficientnet as E
    monkeypatch.setattr(E, "_pip_weights_path", lambda: None)
    with pytest.raises(ModelNotInstalledError, match="earmark models install efficientnet"):
        EfficientNetLite0().load_imagenet_weights(home=tmp_path)


def test_pip_package_weights_are_checksummed(tmp_path, monkeypatch):
    import earmark.models.efficientnet as E
    fake = tmp_path / "efficientnet-lite0-57934424.pth"
    torch.save(EfficientNetLite0().state_dict(), fake)
    monkeypatch.setattr(E, "_pip_weights_path", lambda: fake)
    with pytest.raises(ModelFileError, match="SHA-256 mismatch"):
        load_imagenet_state_dict(home=tmp_path)


@pytest.fixture(scope="module")
def imagenet_net():
    try:
        return EfficientNetLite0().load_imagenet_weights().eval()
    except ModelNotInstalledError as exc:
        pytest.skip(f"EfficientNet-Lite0 weights are not installed here ({exc})")


def test_imagenet_weights_classify_grace_hopper_as_military_uniform(imagenet_net):
    import matplotlib.cbook
    from PIL import Image
    img = Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    w, h = img.size
    s = min(w, h)
    img = img.convert("RGB").crop(((w - s) // 2, (h - s) // 2, (w + s) // 2, (h + s) // 2))
    x01 = np.asarray(img.resize((224, 224), Image.BILINEAR), np.float32) / 255.0
    x = (torch.from_numpy(x01).permute(2, 0, 1)[None] * 255 - 127) / 128
    with torch.no_grad():
        logits = imagenet_net._fc(imagenet_net.feature_map(x).mean(dim=(2, 3)))
    assert int(logits.argmax()) == 652          # ImageNet class 652: military uniform


def test_fine_tuning_head_keeps_the_imagenet_body(imagenet_net):
    net = EfficientNetLite0(num_classes=3).load_imagenet_weights()
    assert torch.equal(net._conv_stem.weight, imagenet_net._conv_stem.weight)
    assert torch.equal(net._blocks[7]._bn1.running_mean, imagenet_net._blocks[7]._bn1.running_mean)
    assert net._fc.weight.shape == (3, 1280)
