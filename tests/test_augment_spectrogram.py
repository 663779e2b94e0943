"""SpecAugment and mixup on torch feature batches."""

import numpy as np
import pytest
import torch

from earmark.augment import Mixup, SpecAugment
from earmark.errors import ParameterError


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def runs(flags):
    """Lengths of the runs of True in a 1-D bool array."""
    padded = np.r_[False, flags, False].astype(int)
    d = np.diff(padded)
    return np.flatnonzero(d == -1) - np.flatnonzero(d == 1)


# -- SpecAugment --------------------------------------------------------------------------------

def test_spec_augment_masks_whole_columns_and_rows_within_the_limits():
    n, bands, frames = 64, 64, 44
    # seeded: in float32 one of these 180k cells equals its window's mean now and then, which
    # made an unseeded version of this test fail about once in 40 runs
    x = torch.randn(n, 1, bands, frames, generator=torch.Generator().manual_seed(7)) * 10 + 50
    t = SpecAugment(n_time_masks=2, max_time_mask_frac=0.1, n_freq_masks=2,
                    max_freq_mask_bands=8, p=1.0)
    out = t(x, generator=gen())
    assert out.shape == x.shape and out.dtype == x.dtype
    masked_any = False
    for i in range(n):
        mean = x[i].mean()
        masked = (out[i, 0] != x[i, 0]).numpy()          # the cells SpecAugment changed
        assert (out[i, 0].numpy()[masked] == mean.item()).all()   # ... all to the mean
        cols = masked.all(axis=0)   # time masks cover every band of a frame
        rows = masked.all(axis=1)   # frequency masks cover every frame of a band
        # Every masked cell belongs to a fully masked column or row.
        assert np.array_equal(masked, cols[None, :] | rows[:, None])
        assert runs(cols).sum() <= 2 * int(0.1 * frames)
        assert all(r <= 2 * int(0.1 * frames) for r in runs(cols))
        assert runs(rows).sum() <= 2 * 8
        masked_any |= masked.any()
    assert masked_any


def test_spec_augment_p_is_per_window_and_p_zero_changes_nothing():
    x = torch.randn(400, 1, 16, 20)
    assert torch.equal(SpecAugment(p=0.0)(x, generator=gen()), x)
    out = SpecAugment(n_time_masks=3, max_time_mask_frac=0.5, n_freq_masks=3,
                      max_freq_mask_bands=8, p=0.5)(x, generator=gen())
    changed = (out != x).flatten(1).any(dim=1).float().mean().item()
    assert changed == pytest.approx(0.5, abs=0.08)


def test_spec_augment_is_seeded_and_does_not_modify_its_input():
    x = torch.randn(8, 1, 64, 44)
    before = x.clone()
    t = SpecAugment(p=1.0)
    a, b, c = t(x, generator=gen(1)), t(x, generator=gen(1)), t(x, generator=gen(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(x, before)


@pytest.mark.parametrize("make, message", [
    (lambda: SpecAugment(max_time_mask_frac=1.5), "'max_time_mask_frac' parameter"),
    (lambda: SpecAugment(n_freq_masks=-1), "'n_freq_masks' parameter"),
    (lambda: SpecAugment(max_freq_mask_bands=2.5), "'max_freq_mask_bands' parameter .* int"),
    (lambda: SpecAugment(p=2), "'p' parameter of SpecAugment"),
    (lambda: Mixup(alpha=0), r"'alpha' parameter of Mixup must be a float in \(0, inf\)"),
    (lambda: Mixup(alpha=-0.2), "'alpha' parameter of Mixup"),
    (lambda: Mixup(p=-1), "'p' parameter of Mixup"),
])
def test_nonsense_parameters_raise(make, message):
    with pytest.raises(ParameterError, match=message):
        make()


def test_wrong_shapes_are_refused():
    with pytest.raises(ParameterError, match=r"\(n, 1, bands, frames\)"):
        SpecAugment()(torch.zeros(10), generator=gen())
    with pytest.raises(ParameterError, match=r"targets of shape \(n, n_classes\) with n = 4"):
        Mixup()(torch.zeros(4, 1, 8, 8), torch.zeros(3, 2), generator=gen())


# -- mixup --------------------------------------------------------------------------------------

def test_mixup_mixes_inputs_and_targets_with_the_same_weight():
    n = 32
    x = torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 1, 4, 5).clone()
    y = torch.eye(n)
    xm, ym = Mixup(alpha=1.0, p=1.0)(x, y, generator=gen(3))
    assert torch.allclose(ym.sum(dim=1), torch.ones(n))
    assert (ym > 0).sum(dim=1).max() <= 2  # each window mixes with one other
    # x_i was the constant i, so the mixed constant is sum_k y_ik * k.
    expected = ym @ torch.arange(n, dtype=torch.float32)
    assert torch.allclose(xm[:, 0, 0, 0], expected, atol=1e-5)
    assert torch.allclose(xm, xm[:, :, :1, :1].expand_as(xm))
    assert not torch.equal(xm, x)


def test_mixup_weights_follow_beta_alpha_alpha():
    alpha, n = 0.4, 20000
    x = torch.zeros(n, 1, 1, 1)
    y = torch.eye(2).repeat(n // 2, 1)  # [1, 0], [0, 1], ...
    _, ym = Mixup(alpha=alpha, p=1.0)(x, y, generator=gen(0))
    # Partners with a different class carry lambda in their own class's column.
    lam = ym[torch.arange(n), torch.arange(n) % 2].numpy()
    lam = lam[lam < 1.0]  # windows that drew themselves or a same-class partner carry no info
    assert lam.mean() == pytest.approx(0.5, abs=0.02)
    assert lam.var() == pytest.approx(1 / (4 * (2 * alpha + 1)), abs=0.01)  # Beta(a, a) variance


def test_mixup_p_zero_is_identity_and_seed_reproduces():
    x, y = torch.randn(16, 1, 8, 8), torch.eye(16)[:, :4]
    xm, ym = Mixup(p=0.0)(x, y, generator=gen())
    assert torch.equal(xm, x) and torch.equal(ym, y)
    a = Mixup(p=1.0)(x, y, generator=gen(5))
    b = Mixup(p=1.0)(x, y, generator=gen(5))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
