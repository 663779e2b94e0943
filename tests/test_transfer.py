"""recipe='transfer:efficientnet': ImageNet EfficientNet-Lite0 fine-tuned by the one training loop.

The wiring is tested with stand-in "pretrained" weights (a seeded random state dict with the
real keys and shapes, served where earmark looks for the ImageNet weights), so the tests need no
installed model: they check that the weights are loaded strictly, that the backbone is frozen
for ``freeze_epochs`` and then trained at ``backbone_lr_scale`` x the learning rate, that the
model file round-trips without the weights installed, and that bad front ends and missing weights
get clear errors before any audio is decoded. The real weights are exercised in
test_efficientnet.py where they are installed.
"""

import numpy as np
import pytest
import torch

import earmark
import earmark.models.efficientnet as E
from earmark.cli import main
from earmark.errors import ParameterError
from earmark.models.efficientnet import EfficientNetLite0
from earmark.models.embeddings import ModelNotInstalledError
from earmark.models.transfer import FEATURES

from _signals import SR, make_clip, write_dataset

SMALL = dict(recipe="transfer:efficientnet", epochs=3, batch_size=16, augment=None,
             progress=False,
             features=FEATURES.replace(sample_rate=SR, n_fft=256, hop_length=128, n_mels=32,
                                       fmax=SR / 2, window_s=0.5, hop_s=0.25))


@pytest.fixture(scope="module")
def stand_in():
    torch.manual_seed(123)
    return {k: v.clone() for k, v in EfficientNetLite0().state_dict().items()}


@pytest.fixture
def weights(monkeypatch, stand_in):
    """Serve the stand-in state dict as the installed ImageNet weights."""
    monkeypatch.setattr(E, "load_imagenet_state_dict", lambda home=None: dict(stand_in))
    monkeypatch.setattr(E, "check_imagenet_weights", lambda home=None: None)
    return stand_in


@pytest.fixture
def no_weights(monkeypatch, tmp_path):
    monkeypatch.setenv("EARMARK_HOME", str(tmp_path))
    monkeypatch.setattr(E, "_pip_weights_path", lambda: None)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("transfer"), per_class=10, seed=0)


def _backbone(net):
    return {k: v.detach().clone() for k, v in net.state_dict().items()
            if not k.startswith("_fc.") and "running" not in k and "num_batches" not in k}


def test_frozen_backbone_keeps_the_pretrained_weights(weights, data, one_torch_thread):
    clf = earmark.SoundClassifier(**{**SMALL, "freeze_epochs": 3}).fit(data)
    got = _backbone(clf.model_.net)
    for k, v in got.items():
        torch.testing.assert_close(v, weights[k], msg=k)
    assert not torch.equal(clf.model_.net._fc.weight, weights["_fc.weight"][:3])
    assert clf.model_.network_name == "efficientnet"
    assert clf.licence_.startswith("Apache-2.0")


def test_backbone_is_trained_after_the_frozen_epochs(weights, data, monkeypatch,
                                                     one_torch_thread):
    from earmark import train as T
    steps = []            # per optimiser step: (head has grads, backbone params with grads)

    class Spy(torch.optim.AdamW):
        def step(self, closure=None):
            head, backbone = self.param_groups
            steps.append((all(p.grad is not None for p in head["params"]),
                          sum(p.grad is not None for p in backbone["params"])))
            return super().step(closure)

    monkeypatch.setattr(T.torch.optim, "AdamW", Spy)
    earmark.SoundClassifier(**{**SMALL, "epochs": 2, "freeze_epochs": 1}).fit(data)
    per_epoch = len(steps) // 2                  # 30 clips, batch 16: 2 steps per epoch
    assert len(steps) == 4 and per_epoch == 2
    assert all(head and n == 0 for head, n in steps[:per_epoch])
    n_backbone = len(EfficientNetLite0(num_classes=3).backbone_parameters())
    assert all(head and n == n_backbone for head, n in steps[per_epoch:])


def test_backbone_gets_the_scaled_learning_rate(weights, monkeypatch):
    from earmark import train as T
    seen = {}
    real = torch.optim.AdamW

    def spy(groups, **kw):
        seen["lrs"] = [g["lr"] for g in groups]
        seen["sizes"] = [len(g["params"]) for g in groups]
        return real(groups, **kw)

    monkeypatch.setattr(T.torch.optim, "AdamW", spy)
    from earmark.models.neural import NeuralWindowModel
    m = NeuralWindowModel(network="efficientnet", n_classes=3, features=SMALL["features"])
    rng = np.random.default_rng(0)
    clips = [make_clip(k, rng) for k in ("low", "high", "noise") * 4]
    T.train_window_model(m, train_clips=clips, train_y=np.arange(12) % 3, progress=False,
                         config=T.TrainConfig(epochs=1, learning_rate=1e-3,
                                              backbone_lr_scale=0.25))
    assert seen["lrs"] == [1e-3, 2.5e-4]
    assert seen["sizes"] == [2, len(list(m.net.parameters())) - 2]     # head: _fc weight, bias


def test_model_file_round_trip_without_the_weights_installed(weights, data, tmp_path,
                                                             monkeypatch, one_torch_thread):
    clf = earmark.SoundClassifier(**SMALL).fit(data)
    path = clf.save(tmp_path / "t.earmark")

    def refuse(home=None):
        raise AssertionError("loading a model file must not need the ImageNet weights")

    monkeypatch.setattr(E, "load_imagenet_state_dict", refuse)
    again = earmark.load(path)
    files = sorted(str(p) for p in data.rglob("*.wav"))[::5]
    np.testing.assert_allclose(again.predict_proba(files), clf.predict_proba(files), atol=1e-5)
    assert again.recipe == "transfer:efficientnet"
    assert again.features_ == clf.features_ and again.licence_ == clf.licence_


def test_transfer_default_augmentation_is_pitch_shift_and_gain(weights):
    from earmark.augment import Gain, PitchShift
    _, train, plan, _ = earmark.SoundClassifier(recipe="transfer:efficientnet").check_params()
    assert [type(t) for t in plan] == [PitchShift, Gain] and train.epochs == 15


def test_normalised_features_are_refused(weights):
    bad = SMALL["features"].replace(normalize="dataset")
    with pytest.raises(ParameterError, match="normalize='none' for a transfer recipe"):
        earmark.SoundClassifier(**{**SMALL, "features": bad}).check_params()


def test_missing_weights_name_the_install_command_before_decoding(no_weights, data, monkeypatch):
    import earmark.estimators.base as C
    monkeypatch.setattr(C, "load_clips", lambda *a, **k: pytest.fail("decoded audio first"))
    with pytest.raises(ModelNotInstalledError, match="earmark models install efficientnet"):
        earmark.SoundClassifier(recipe="transfer:efficientnet").fit(data)


def test_cli_trains_a_transfer_model(weights, data, tmp_path, capsys, one_torch_thread):
    out = tmp_path / "cli.earmark"
    rc = main(["train", str(data), "--out", str(out), "--recipe", "transfer:efficientnet",
               "--epochs", "2", "--augment", "none", "--window-s", "0.5", "-q"])
    assert rc == 0 and out.exists()
    clf = earmark.load(out)
    assert clf.features_.n_mels == 128 and clf.features_.window_s == 0.5
    assert clf.features_.normalize == "none"
    assert "trained 3 classes" in capsys.readouterr().out
