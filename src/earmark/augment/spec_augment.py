# Own code: audiomentations works on numpy waveforms one at a time; masking a torch feature
# batch is a few vectorised comparisons, and a torch.Generator makes it reproducible.
"""SpecAugment time and frequency masks on a batch of log-mel features (Park et al., 2019)."""

import torch

from .._validation import check_number
from ..errors import ParameterError
from .base import SpectrogramTransform

__all__ = ["SpecAugment"]


def _check_batch(x, owner):
    if not isinstance(x, torch.Tensor) or x.ndim < 3:
        shape = tuple(x.shape) if hasattr(x, "shape") else type(x).__name__
        raise ParameterError(f"{owner} expects a torch feature batch of shape (n, 1, bands, "
                             f"frames). Got {shape} instead.")
    if not torch.is_floating_point(x):
        raise ParameterError(f"{owner} expects float features; got dtype {x.dtype}.")


def _bands(n, count, max_width, size, generator):
    """(n, size) bool: union of ``count`` random bands of width 0..max_width per item."""
    if count == 0 or max_width == 0:
        return torch.zeros((n, size), dtype=torch.bool)
    width = (torch.rand((n, count), generator=generator) * (max_width + 1)).floor()
    start = (torch.rand((n, count), generator=generator) * (size - width + 1)).floor()
    pos = torch.arange(size, dtype=width.dtype)
    inside = (pos >= start[..., None]) & (pos < (start + width)[..., None])
    return inside.any(dim=1)


class SpecAugment(SpectrogramTransform):
    """Mask random stretches of time and random mel bands in each window of a feature batch.

    Parameters
    ----------
    n_time_masks : int
        Time masks per window.
    max_time_mask_frac : float
        Longest time mask as a fraction of the window's frames (0.1 of 44 frames = 4 frames);
        each mask's width is drawn from 0 to that.
    n_freq_masks : int
        Frequency masks per window.
    max_freq_mask_bands : int
        Widest frequency mask in feature rows (mel bands); each width is drawn from 0 to that.
    p : float
        Probability that a window is masked at all.

    Notes
    -----
    Masked cells get the window's mean value, which is right for dB features and for normalised
    features alike (a 0 would be loud in dB and average after normalisation). Masks do not move
    events, so strong labels stay valid. Call as ``t(x, generator=g)`` with a CPU
    ``torch.Generator``; ``x`` is not modified.

    Examples
    --------
    >>> import torch
    >>> t = SpecAugment(n_time_masks=2, max_time_mask_frac=0.1, n_freq_masks=2,
    ...                 max_freq_mask_bands=8, p=1.0)
    >>> x = torch.randn(4, 1, 64, 44)
    >>> t(x, generator=torch.Generator().manual_seed(0)).shape
    torch.Size([4, 1, 64, 44])
    """

    spec_name = "specaugment"

    def __init__(self, *, n_time_masks=2, max_time_mask_frac=0.1, n_freq_masks=2,
                 max_freq_mask_bands=8, p=0.5):
        super().__init__(p=p)
        o = "SpecAugment"
        self.n_time_masks = check_number(n_time_masks, "n_time_masks", o, low=0, high=100,
                                         closed="both", integer=True)
        self.max_time_mask_frac = check_number(max_time_mask_frac, "max_time_mask_frac", o,
                                               low=0, high=1, closed="both")
        self.n_freq_masks = check_number(n_freq_masks, "n_freq_masks", o, low=0, high=100,
                                         closed="both", integer=True)
        self.max_freq_mask_bands = check_number(max_freq_mask_bands, "max_freq_mask_bands", o,
                                                low=0, closed="left", integer=True)

    def __call__(self, x, *, generator):
        _check_batch(x, "SpecAugment")
        n, bands, frames = x.shape[0], x.shape[-2], x.shape[-1]
        apply = torch.rand(n, generator=generator) < self.p
        max_t = int(self.max_time_mask_frac * frames)
        time_mask = _bands(n, self.n_time_masks, max_t, frames, generator)
        freq_mask = _bands(n, self.n_freq_masks, min(self.max_freq_mask_bands, bands), bands,
                           generator)
        mask = (time_mask[:, None, :] | freq_mask[:, :, None]) & apply[:, None, None]
        mask = mask.view((n,) + (1,) * (x.ndim - 3) + (bands, frames)).to(x.device)
        mean = x.mean(dim=tuple(range(1, x.ndim)), keepdim=True)
        return torch.where(mask, mean, x)
