"""CNNs trained from scratch on log-mel windows.

- :class:`SBCNN`: the SB-CNN baseline of Salamon & Bello (2017): three 5x5 convolutions with
  (4, 2) max-pooling, global average pooling and a small dense layer. Small and fast; the one to
  use for streaming and very long recordings.
- :class:`SmallCNN`: a modern small CNN in the style of the PANNs CNN6/10 and DCASE baselines:
  four stages of two 3x3 conv + batch-norm + ReLU, 2x2 average pooling, then frequency-mean and
  time-(mean + max) pooling and dropout. Stronger, a few times slower.

Both take (n, 1, n_features, frames) tensors and return logits (n, n_classes); they know nothing
about files or labels.
"""

import torch
from torch import nn

__all__ = ["SBCNN", "SmallCNN", "NETWORKS", "build_network"]


class SBCNN(nn.Module):
    """SB-CNN-like baseline.

    Examples
    --------
    >>> net = SBCNN(n_classes=3)
    >>> net(torch.zeros(2, 1, 64, 44)).shape
    torch.Size([2, 3])
    """

    def __init__(self, n_classes, *, width=24, dropout=0.3):
        super().__init__()
        w1, w2 = width, 2 * width

        def block(cin, cout):
            return [nn.Conv2d(cin, cout, 5, padding=2, bias=False), nn.BatchNorm2d(cout),
                    nn.ReLU(inplace=True)]

        self.features = nn.Sequential(
            *block(1, w1), nn.MaxPool2d((4, 2), ceil_mode=True),
            *block(w1, w2), nn.MaxPool2d((4, 2), ceil_mode=True),
            *block(w2, w2))
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(w2, 64), nn.ReLU(inplace=True),
                                  nn.Dropout(dropout), nn.Linear(64, n_classes))

    def embed(self, x):
        return self.features(x).mean(dim=(2, 3))

    def forward(self, x):
        return self.head(self.embed(x))


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
    """Modern small CNN (CNN6/10-style), global mean+max pooling over time.

    Examples
    --------
    >>> net = SmallCNN(n_classes=3)
    >>> net(torch.zeros(2, 1, 64, 44)).shape
    torch.Size([2, 3])
    """

    def __init__(self, n_classes, *, widths=(32, 64, 128, 128), dropout=0.3):
        super().__init__()
        self.bn0 = nn.BatchNorm2d(1)
        layers, cin = [], 1
        for i, w in enumerate(widths):
            layers.append(_ConvBlock(cin, w))
            if i < len(widths) - 1:
                layers.append(nn.AvgPool2d(2, ceil_mode=True))
            cin = w
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(cin, cin)
        self.out = nn.Linear(cin, n_classes)

    def embed(self, x):
        h = self.features(self.bn0(x)).mean(dim=2)          # (n, c, frames): mean over frequency
        h = h.mean(dim=2) + h.amax(dim=2)                   # time: mean + max
        return torch.relu(self.fc(self.dropout(h)))

    def forward(self, x):
        return self.out(self.dropout(self.embed(x)))


#: name -> (class, description)
NETWORKS = {
    "sbcnn": (SBCNN, "SB-CNN-like baseline: 3 conv layers, fast (streaming, long files)"),
    "cnn": (SmallCNN, "modern small CNN: 4 double-conv stages, mean+max pooling (default)"),
}


def build_network(name, n_classes, **kwargs):
    """Build a network by name (see :data:`NETWORKS`)."""
    from .._validation import check_choice
    check_choice(name, "model", "build_network", tuple(NETWORKS))
    return NETWORKS[name][0](n_classes, **kwargs)
