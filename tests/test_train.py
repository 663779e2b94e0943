"""The training loop: early stopping, Ctrl-C keeps the best epoch, class weights, seeds."""

import numpy as np
import pytest
import torch

from earmark import FeatureConfig, TrainConfig
from earmark.errors import ParameterError
from earmark.models.neural import NeuralWindowModel
from earmark.tasks import get_task
from earmark import train as train_mod

from _signals import SR, make_clip

FEATS = FeatureConfig(sample_rate=SR, n_fft=256, hop_length=128, n_mels=32, window_s=0.5,
                      hop_s=0.25)


def _data(n, seed):
    rng = np.random.default_rng(seed)
    kinds = ["low", "high", "noise"]
    clips = [make_clip(kinds[i % 3], rng) for i in range(n)]
    return clips, np.arange(n) % 3


def _model():
    torch.manual_seed(0)
    return NeuralWindowModel(network="sbcnn", n_classes=3, features=FEATS)


def test_early_stopping_stops_and_restores_best():
    clips, y = _data(24, 0)
    vclips, vy = _data(9, 1)
    model = _model()
    cfg = TrainConfig(epochs=40, patience=2, batch_size=8, learning_rate=3e-3)
    history, info = train_mod.train_window_model(model, train_clips=clips, train_y=y,
                                                 val_clips=vclips, val_y=vy, config=cfg,
                                                 progress=False)
    assert info["stopped_early"] and len(history) < 40
    assert len(history) - info["best_epoch"] == 2        # stopped `patience` epochs after best
    best = history[info["best_epoch"] - 1]["val_accuracy"]
    proba = train_mod.evaluate_clips(model, vclips)
    from sklearn.metrics import balanced_accuracy_score
    assert balanced_accuracy_score(vy, proba.argmax(1)) == pytest.approx(best)


def test_without_validation_every_epoch_runs_and_the_last_is_kept():
    # mixup makes the training loss noisy: it used to pick the "best" epoch by training loss and
    # stop after `patience` epochs without a lower one
    from earmark.augment import Augmentation
    clips, y = _data(24, 0)
    model = _model()
    cfg = TrainConfig(epochs=12, patience=1, batch_size=8, learning_rate=3e-3)
    history, info = train_mod.train_window_model(
        model, train_clips=clips, train_y=y, val_clips=[], val_y=[], config=cfg,
        augmentation=Augmentation.from_spec("mixup,specaugment", seed=0), progress=False)
    losses = [h["train_loss"] for h in history]
    assert len(history) == 12 and info["best_epoch"] == 12 and not info["stopped_early"]
    assert min(losses) < losses[-1] or any(b >= a for a, b in zip(losses, losses[1:]))


def test_ctrl_c_keeps_best_epoch(monkeypatch):
    clips, y = _data(12, 0)
    vclips, vy = _data(6, 1)
    real = train_mod.evaluate_clips
    calls = {"n": 0}

    def interrupting(*a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(train_mod, "evaluate_clips", interrupting)
    model = _model()
    history, info = train_mod.train_window_model(
        model, train_clips=clips, train_y=y, val_clips=vclips, val_y=vy,
        config=TrainConfig(epochs=10, batch_size=8), progress=False)
    assert info["interrupted"] and len(history) == 2 and info["best_epoch"] in (1, 2)
    assert not model.net.training          # ready for inference after the interruption


def test_class_weights_balance_counts():
    targets = train_mod._as_targets(np.array([0, 0, 0, 1]), 3)
    w = get_task("classification").loss_weights(targets)
    assert w.tolist() == pytest.approx([4 / 3 / 2, 4 / 1 / 2, 0.0])


def test_sampler_draws_classes_evenly():
    y = np.array([0] * 90 + [1] * 10)
    rng = np.random.default_rng(0)
    targets = train_mod._as_targets(y, 2)
    task = get_task("classification")
    order = np.concatenate([train_mod._epoch_order(targets, "sampler", task, rng)
                            for _ in range(20)])
    assert abs(np.mean(y[order] == 1) - 0.5) < 0.05


def test_sampler_draws_rare_tags_more_often():
    # tag 0 on 90 clips, tag 1 on 10 (5 of them with tag 0 too), 5 clips with no tag
    targets = np.zeros((105, 2), np.float32)
    targets[:90, 0] = 1
    targets[85:95, 1] = 1
    order = train_mod._epoch_order(targets, "sampler", get_task("tagging"),
                                   np.random.default_rng(0))
    assert np.mean(targets[order, 1]) > 0.3 > np.mean(targets[:, 1])


def test_bad_train_config():
    with pytest.raises(ParameterError, match="The 'balance' parameter of TrainConfig must be "
                                             "one of"):
        TrainConfig(balance="magic")
    with pytest.raises(ParameterError, match="'val_fraction' parameter of TrainConfig"):
        TrainConfig(val_fraction=0.9)
