"""CNNs trained from scratch on log-mel windows.

- :class:`SBCNN`: the SB-CNN of Salamon & Bello (2017): three 5x5 convolutions with (4, 2)
  max-pooling, then the feature map flattened into a 64-unit dense layer. Small and fast; the one
  to use for streaming and very long recordings.
- :class:`SmallCNN`: a modern small CNN in the style of the PANNs CNN6/10 and DCASE baselines:
  four stages of two 3x3 conv + batch-norm + ReLU with 2x2 average pooling, then mean + max
  pooling over time only. Stronger, a few times slower.

Both keep *where in frequency* a pattern sits (flattened, or pooled over time only): a kick and
a hi-hat differ mostly in that, and global pooling over frequency would throw it away.

Both take (n, 1, n_features, frames) tensors and return logits (n, n_classes); they know nothing
about files or labels. The input size is fixed at construction (``n_features``, ``frames``).
"""

import torch
from torch import nn

__all__ = ["SBCNN", "SmallCNN", "NETWORKS", "build_network"]


def _out_size(size, pools):
    for k in pools:
        size = -(-size // k)        # ceil_mode pooling
    return size


class SBCNN(nn.Module):
    """SB-CNN (Salamon & Bello, 2017) with batch-norm.

    Examples
    --------
    >>> net = SBCNN(n_classes=3, n_features=64, frames=44)
    >>> net(torch.zeros(2, 1, 64, 44)).shape
    torch.Size([2, 3])
    """

    def __init__(self, n_classes, *, n_features=64, frames=44, width=24, dropout=0.5):
        super().__init__()
        w1, w2 = width, 2 * width

        def block(cin, cout):
            return [nn.Conv2d(cin, cout, 5, padding=2, bias=False), nn.BatchNorm2d(cout),
                    nn.ReLU(inplace=True)]

        self.features = nn.Sequential(
            *block(1, w1), nn.MaxPool2d((4, 2), ceil_mode=True),
            *block(w1, w2), nn.MaxPool2d((4, 2), ceil_mode=True),
            *block(w2, w2))
        flat = w2 * _out_size(n_features, (4, 4)) * _out_size(frames, (2, 2))
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(flat, 64),
                                  nn.ReLU(inplace=True), nn.Dropout(dropout),
                                  nn.Linear(64, n_classes))

    def forward(self, x):
        return self.head(self.features(x))


class _ConvBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True))

    def forward(self, x):
        return self.body(x)


class SmallCNN(nn.Module):
    """Modern small CNN (CNN6/10-style), mean + max pooling over time, frequency kept.

    Examples
    --------
    >>> net = SmallCNN(n_classes=3, n_features=64, frames=44)
    >>> net(torch.zeros(2, 1, 64, 44)).shape
    torch.Size([2, 3])
    """

    def __init__(self, n_classes, *, n_features=64, frames=44, widths=(32, 64, 128, 128),
                 dropout=0.3, embed_dim=256):
        super().__init__()
        self.bn0 = nn.BatchNorm2d(1)
        layers, cin = [], 1
        for i, w in enumerate(widths):
            layers.append(_ConvBlock(cin, w))
            if i < len(widths) - 1:
                layers.append(nn.AvgPool2d(2, ceil_mode=True))
            cin = w
        self.features = nn.Sequential(*layers)
        bands = _out_size(n_features, (2,) * (len(widths) - 1))
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(cin * bands, embed_dim)
        self.out = nn.Linear(embed_dim, n_classes)

    def forward(self, x):
        h = self.features(self.bn0(x))                      # (n, c, bands, frames)
        h = h.mean(dim=3) + h.amax(dim=3)                   # pool time only
        h = torch.relu(self.fc(self.dropout(h.flatten(1))))
        return self.out(self.dropout(h))


#: name -> (class, description)
NETWORKS = {
    "sbcnn": (SBCNN, "SB-CNN: 3 conv layers + dense, fast (default; streaming, long files)"),
    "cnn": (SmallCNN, "modern small CNN: 4 double-conv stages, time pooling, a few times slower"),
}


def build_network(name, n_classes, **kwargs):
    """Build a network by name: one of :data:`NETWORKS`, or of
    :data:`earmark.models.transfer.TRANSFER_NETWORKS` (randomly initialised)."""
    from .._validation import check_choice
    from .transfer import TRANSFER_NETWORKS, build_transfer_network
    if name in TRANSFER_NETWORKS:
        return build_transfer_network(name, n_classes, **kwargs)
    check_choice(name, "model", "build_network", tuple(NETWORKS))
    return NETWORKS[name][0](n_classes, **kwargs)
