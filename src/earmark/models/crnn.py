"""A convolutional recurrent network that keeps time: frame scores for event detection.

:class:`CRNN` is the design of the DCASE sound event detection baselines: convolution blocks
that pool frequency away but time only a little (so each output frame is a short stretch of
audio), a bidirectional GRU that reads the frames in order (an event's context: its onset, its
decay, what sounds before and after), and one sigmoid output per class and frame. For weak
labels (clip tags only) the frames are pooled to the clip by attention (multi-instance
learning): the network learns *where* from *what*, and still outputs frames.

It takes (n, 1, n_features, frames) log-mel windows like every earmark network and returns
frame logits (n, out_frames, n_classes); it knows nothing about files or labels.
"""

import torch
from torch import nn

__all__ = ["CRNN", "FRAME_NETWORKS", "build_frame_network"]


def _ceil_div(a, b):
    return -(-a // b)


class CRNN(nn.Module):
    """Conv blocks (3x3 conv + batch-norm + ReLU, pooling mostly frequency) + bidirectional GRU
    + per-frame linear outputs, with attention pooling to the clip.

    Parameters
    ----------
    n_classes : int
    n_features : int
        Mel bands of the input.
    frames : int
        Input frames per window (the output has ``ceil(frames / time_pool)`` frames).
    widths : tuple of int
        Channels of each conv block.
    freq_pools, time_pools : tuple of int
        Pooling of each block over frequency and time; ``time_pool`` (their product over time)
        is how many input frames one output frame spans: 2 by default, 46-ms frames at 22.05 kHz
        with a 512-sample hop. (At 93 ms, even perfect frame scores reach only PSDS1 0.59 on the
        sed bench set, whose impacts last 0.1-0.5 s: PSDS1 counts a detection only when 70 % of
        it lies inside the event; at 46 ms, 0.99. ``benchmarks/detection.py --oracle``.)
    rnn_units : int
        GRU units per direction.
    dropout : float

    Attributes
    ----------
    output : {'frames', 'clip'}
        What ``forward`` returns: frame logits (n, out_frames, n_classes), or (weak-label
        training) the logits of the attention-pooled clip probabilities (n, n_classes).

    Examples
    --------
    >>> net = CRNN(n_classes=3, n_features=64, frames=216)
    >>> net(torch.zeros(2, 1, 64, 216)).shape
    torch.Size([2, 108, 3])
    >>> net.time_pool, net.out_frames(216)
    (2, 108)
    >>> net.output = "clip"
    >>> net(torch.zeros(2, 1, 64, 216)).shape
    torch.Size([2, 3])
    """

    def __init__(self, n_classes, *, n_features=64, frames=216, widths=(16, 32, 64),
                 freq_pools=(4, 4, 2), time_pools=(2, 1, 1), rnn_units=64, dropout=0.2):
        super().__init__()
        if not len(widths) == len(freq_pools) == len(time_pools):
            raise ValueError("widths, freq_pools and time_pools need one entry per block")
        self.bn0 = nn.BatchNorm2d(1)
        layers, cin, bands = [], 1, n_features
        for w, fp, tp in zip(widths, freq_pools, time_pools):
            layers += [nn.Conv2d(cin, w, 3, padding=1, bias=False), nn.BatchNorm2d(w),
                       nn.ReLU(inplace=True)]
            if fp > 1 or tp > 1:
                layers.append(nn.MaxPool2d((fp, tp), ceil_mode=True))
            cin, bands = w, _ceil_div(bands, fp)
        self.features = nn.Sequential(*layers)
        self.time_pool = 1
        for tp in time_pools:
            self.time_pool *= tp
        self._time_pools = tuple(time_pools)
        self.dropout = nn.Dropout(dropout)
        self.rnn = nn.GRU(cin * bands, rnn_units, batch_first=True, bidirectional=True)
        self.frame_out = nn.Linear(2 * rnn_units, n_classes)
        self.attention = nn.Linear(2 * rnn_units, n_classes)
        self.output = "frames"

    def out_frames(self, frames):
        """Output frames of an input of ``frames`` frames."""
        for tp in self._time_pools:
            frames = _ceil_div(frames, tp)
        return frames

    def _hidden(self, x):
        h = self.features(self.bn0(x))                  # (n, c, bands, t)
        h = h.permute(0, 3, 1, 2).flatten(2)            # (n, t, c * bands)
        h, _ = self.rnn(self.dropout(h))
        return self.dropout(h)

    def forward(self, x):
        h = self._hidden(x)
        frames = self.frame_out(h)                      # (n, t, classes) logits
        if self.output == "frames":
            return frames
        return torch.logit(self.pool(frames, self.attention(h)), eps=1e-6)

    @staticmethod
    def pool(frame_logits, attention_logits):
        """Clip probabilities (n, classes): frame probabilities averaged over time with
        per-class attention weights (softmax over time)."""
        w = torch.softmax(attention_logits, dim=1)
        return (w * torch.sigmoid(frame_logits)).sum(dim=1)

    def clip_and_frames(self, x):
        """(clip probabilities (n, classes), frame probabilities (n, t, classes))."""
        h = self._hidden(x)
        frames = self.frame_out(h)
        return self.pool(frames, self.attention(h)), torch.sigmoid(frames)


#: name -> (class, description)
FRAME_NETWORKS = {
    "crnn": (CRNN, "CRNN: 3 conv blocks + bidirectional GRU, frame outputs (event detection)"),
}


def build_frame_network(name, n_classes, **kwargs):
    """Build a network with frame outputs by name (:data:`FRAME_NETWORKS`)."""
    from .._validation import check_choice
    check_choice(name, "model", "build_frame_network", tuple(FRAME_NETWORKS))
    return FRAME_NETWORKS[name][0](n_classes, **kwargs)
