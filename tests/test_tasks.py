"""Tasks: targets, activation, loss, aggregation, decisions, with known answers."""

import numpy as np
import pytest
import torch

from earmark.augment.mixup import Mixup
from earmark.errors import ParameterError
from earmark.tasks import TASKS, get_task


def test_get_task():
    assert get_task("tagging") is TASKS["tagging"]
    assert get_task(TASKS["classification"]) is TASKS["classification"]
    with pytest.raises(ParameterError, match="The 'task' parameter of get_task must be one of"):
        get_task("detection-v9")


def test_encode_one_hot_and_multi_hot():
    classes = ["bird", "dog", "rain"]
    hot = get_task("tagging").encode([("dog",), ("bird", "rain"), ()], classes)
    assert hot.tolist() == [[0, 1, 0], [1, 0, 1], [0, 0, 0]]
    one = get_task("classification").encode([("dog",), ("rain",)], classes)
    assert one.tolist() == [[0, 1, 0], [0, 0, 1]]
    with pytest.raises(ParameterError, match="exactly one label per clip.*task='tagging'"):
        get_task("classification").encode([("dog", "bird")], classes)
    with pytest.raises(ParameterError, match="'cat' is not one of the classes"):
        get_task("tagging").encode([("cat",)], classes)


def test_tagging_aggregation_does_not_renormalise():
    s = np.array([[0.9, 0.2, 0.1], [0.1, 0.4, 0.1]])
    task = get_task("tagging")
    np.testing.assert_allclose(task.aggregate(s, method="mean"), [0.5, 0.3, 0.1])
    np.testing.assert_allclose(task.aggregate(s, method="max"), [0.9, 0.4, 0.1])
    lse = task.aggregate(s, method="lse")
    # log(mean(exp(5 s))) / 5, computed by hand for the first class
    assert lse[0] == pytest.approx(np.log((np.exp(4.5) + np.exp(0.5)) / 2) / 5)
    assert np.all(lse >= task.aggregate(s, method="mean") - 1e-12)
    assert np.all(lse <= task.aggregate(s, method="max") + 1e-12)
    # classification's max renormalises (its classes compete)
    cmax = get_task("classification").aggregate(s, method="max")
    assert cmax.sum() == pytest.approx(1.0)
    with pytest.raises(ParameterError, match="'aggregation' parameter of aggregate"):
        task.aggregate(s, method="vote")


def test_decisions():
    s = np.array([[0.7, 0.3], [0.2, 0.25]])
    assert get_task("classification").decide(s, ["a", "b"]).tolist() == ["a", "b"]
    assert get_task("tagging").decide(s, ["a", "b"]) == [("a",), ()]
    assert get_task("tagging").decide(s, ["a", "b"], thresholds=[0.8, 0.25]) == [("b",), ("b",)]


def test_tagging_loss_is_binary_cross_entropy_with_positive_weights():
    task = get_task("tagging")
    targets = np.array([[1, 0], [0, 0], [0, 0], [0, 1]], np.float32)
    w = task.loss_weights(targets)
    assert w.tolist() == [3.0, 3.0]                  # negatives / positives per class
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.0], [-1.0, 1.0], [0.0, 3.0]])
    y = torch.from_numpy(targets)
    expected = -(3 * y * torch.log(torch.sigmoid(logits))
                 + (1 - y) * torch.log(1 - torch.sigmoid(logits))).mean()
    assert float(task.loss(logits, y, w)) == pytest.approx(float(expected), rel=1e-6)
    many = np.zeros((200, 1), np.float32)
    many[0] = 1
    assert task.loss_weights(many).tolist() == [10.0]          # capped


def test_clip_losses():
    t = np.array([[1.0, 0.0]])
    s = np.array([[0.8, 0.2]])
    assert get_task("classification").clip_loss(s, t) == pytest.approx(-np.log(0.8))
    assert get_task("tagging").clip_loss(s, t) == pytest.approx(-np.log(0.8))


def test_mixup_mixes_multi_hot_targets_per_class():
    # window i is the unit vector e_i, so a mixed window shows its lambda and its partner
    n = 6
    x = torch.eye(n).view(n, 1, n, 1)
    y = torch.tensor([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 0], [0, 0, 1], [1, 1, 1]],
                     dtype=torch.float32)
    xm, ym = Mixup(alpha=0.4, p=1.0)(x, y, generator=torch.Generator().manual_seed(3))
    mixed = 0
    for i in range(n):
        row = xm[i].flatten()
        others = [k for k in range(n) if k != i and row[k] > 1e-6]
        if not others:                 # mixed with itself: unchanged
            assert torch.allclose(ym[i], y[i])
            continue
        j, lam = others[0], float(row[i])
        assert torch.allclose(ym[i], lam * y[i] + (1 - lam) * y[j], atol=1e-6)
        mixed += 1
    assert mixed >= 3 and ym.min() >= 0 and ym.max() <= 1


def test_sample_weights_favour_rare_tags():
    targets = np.array([[1, 0]] * 8 + [[0, 1]] * 2, np.float32)
    w = get_task("tagging").sample_weights(targets)
    assert w.sum() == pytest.approx(1.0)
    assert w[8] == pytest.approx(4 * w[0])
