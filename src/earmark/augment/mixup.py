# Own code: audiomentations has no mixup (it needs targets); this mixes a torch batch and its
# targets with one vectorised step, reproducible from a torch.Generator.
"""Mixup (Zhang et al., 2018): mix pairs of inputs and their targets with Beta(α, α) weights."""

import numpy as np
import torch

from .._validation import check_number
from ..errors import ParameterError
from .base import BatchTransform
from .spec_augment import _check_batch

__all__ = ["Mixup"]


class Mixup(BatchTransform):
    """Replace each window by ``λ·x_i + (1-λ)·x_j``, its target by ``λ·y_i + (1-λ)·y_j``.

    ``j`` is a random permutation of the batch and ``λ ~ Beta(alpha, alpha)`` is drawn per window;
    inputs and targets use the same ``λ``.

    Parameters
    ----------
    alpha : float
        Beta distribution parameter, > 0. Small values (0.2-0.4) give λ near 0 or 1 (mostly one
        window with a little of another); 1 gives uniform λ; large values give λ near 0.5.
    p : float
        Probability that a window is mixed; the others keep λ = 1.

    Notes
    -----
    Mixing the log-mel dB features (as here) rather than waveforms is what most audio mixup
    implementations do; the targets become soft (multi-hot targets mix per class). Call as
    ``t(x, y, generator=g)`` with a CPU ``torch.Generator``; ``x`` and ``y`` are not modified.

    Examples
    --------
    >>> import torch
    >>> x, y = torch.randn(8, 1, 64, 44), torch.eye(8)
    >>> xm, ym = Mixup(alpha=0.4, p=1.0)(x, y, generator=torch.Generator().manual_seed(0))
    >>> torch.allclose(ym.sum(dim=1), torch.ones(8))
    True
    """

    spec_name = "mixup"

    def __init__(self, *, alpha=0.4, p=0.5):
        super().__init__(p=p)
        self.alpha = check_number(alpha, "alpha", "Mixup", low=0, closed="neither")

    def __call__(self, x, y, *, generator):
        _check_batch(x, "Mixup")
        if not isinstance(y, torch.Tensor) or y.ndim != 2 or y.shape[0] != x.shape[0]:
            shape = tuple(y.shape) if hasattr(y, "shape") else type(y).__name__
            raise ParameterError(f"Mixup expects targets of shape (n, n_classes) with n = "
                                 f"{x.shape[0]} (the batch size of x). Got {shape} instead.")
        n = x.shape[0]
        # torch's Beta sampler takes no Generator; seed numpy's from the torch Generator instead.
        seed = int(torch.randint(0, 2 ** 62, (1,), generator=generator))
        rng = np.random.default_rng(seed)
        lam = rng.beta(self.alpha, self.alpha, size=n)
        lam = np.where(rng.random(n) < self.p, lam, 1.0)
        perm = torch.randperm(n, generator=generator).to(x.device)
        lam_x = torch.as_tensor(lam, dtype=x.dtype, device=x.device)
        lam_x = lam_x.view((n,) + (1,) * (x.ndim - 1))
        yf = y.to(x.dtype) if not torch.is_floating_point(y) else y
        lam_y = torch.as_tensor(lam, dtype=yf.dtype, device=yf.device).view(n, 1)
        x_mix = lam_x * x + (1 - lam_x) * x[perm]
        y_mix = lam_y * yf + (1 - lam_y) * yf[perm.to(yf.device)]
        return x_mix, y_mix
