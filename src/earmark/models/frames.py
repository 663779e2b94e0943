"""Window models that score frames: the model side of sound event detection.

Two kinds answer the same question — per analysis window, a score for each class on each of
``out_frames`` frames of ``frame_step_samples`` samples:

- :class:`NeuralFrameModel`: a network with frame outputs (:class:`~earmark.models.crnn.CRNN`)
  and its front end, trained on frame targets (strong labels) or on clip tags through attention
  pooling (weak labels);
- :class:`WindowFrames`: any window classifier (a CNN, an embedding + head) seen as a frame model
  whose frames all carry the window's score; overlapping windows then give frame scores where
  each frame is the mean of the windows that cover it (the way BirdNET-style tools find events).

:mod:`earmark.inference.frames` cuts recordings into windows on the frame grid, scores them
with either and stitches the frames.
"""

import numpy as np
import torch

from .crnn import build_frame_network
from .neural import NeuralWindowModel

__all__ = ["NeuralFrameModel", "WindowFrames", "frame_targets"]


def frame_targets(events, starts, window, n_classes, *, step, n_frames):
    """Frame targets (n_windows, n_frames, n_classes) of windows from a clip's timed events.

    Frame ``k`` of a window starting at sample ``s`` covers ``[s + k*step, s + (k+1)*step)``; it
    carries a class when one of the class's events covers at least half of it.

    Parameters
    ----------
    events : array (n_events, 3)
        Onset sample, offset sample, class index.
    starts : array (n_windows,)
        Window start samples; ``window`` is the window length (unused: frames set the span).

    Examples
    --------
    >>> ev = np.array([[100, 350, 1]])
    >>> frame_targets(ev, [0], 400, 2, step=100, n_frames=4)[0, :, 1].tolist()
    [0.0, 1.0, 1.0, 1.0]
    >>> frame_targets(ev, [200], 400, 2, step=100, n_frames=4)[0, :, 1].tolist()
    [1.0, 1.0, 0.0, 0.0]
    """
    starts = np.asarray(starts, np.int64).reshape(-1, 1)
    lo = starts + np.arange(n_frames, dtype=np.int64) * step        # (n_windows, n_frames)
    out = np.zeros((len(starts), n_frames, n_classes), np.float32)
    for onset, offset, c in np.asarray(events, np.int64).reshape(-1, 3):
        overlap = np.minimum(lo + step, offset) - np.maximum(lo, onset)
        out[..., c] = np.maximum(out[..., c], overlap * 2 >= step)
    return out


class NeuralFrameModel(NeuralWindowModel):
    """A network with frame outputs plus its front end.

    Parameters
    ----------
    network : str
        Name in :data:`earmark.models.crnn.FRAME_NETWORKS`.
    clip_pooling : {'max', 'attention'}
        How :meth:`score_windows` pools frames to one score per window (validation and clip
        tags): the largest frame score (strong labels), or the network's attention pooling,
        the one it was trained through (weak labels).
    n_classes, features, network_kwargs, device, mel_basis
        As for :class:`~earmark.models.neural.NeuralWindowModel` (always sigmoid).
    """

    def __init__(self, *, network="crnn", n_classes, features, network_kwargs=None,
                 device="cpu", mel_basis=None, clip_pooling="max"):
        from .._validation import check_choice
        self.clip_pooling = check_choice(clip_pooling, "clip_pooling", "NeuralFrameModel",
                                         ("max", "attention"))
        super().__init__(network=network, n_classes=n_classes, features=features,
                         network_kwargs=network_kwargs, device=device, mel_basis=mel_basis,
                         activation="sigmoid")

    def _build_network(self):
        return build_frame_network(self.network_name, self.n_classes,
                                   n_features=self.features.n_features,
                                   frames=self.features.frames_per_window,
                                   **self.network_kwargs)

    @property
    def frame_step_samples(self):
        """Samples per output frame."""
        return self.net.time_pool * self.features.hop_length

    @property
    def out_frames(self):
        """Output frames per analysis window."""
        return self.net.out_frames(self.features.frames_per_window)

    def _run(self, windows, batch, fn):
        windows = np.asarray(windows, dtype=np.float32)
        net = self._inference_net or self.net
        net.eval()
        out = []
        with torch.inference_mode():
            for i in range(0, len(windows), batch):
                x = self.featurize(torch.from_numpy(windows[i:i + batch]).to(self.device))
                if self.device.type == "cpu":
                    x = x.contiguous(memory_format=torch.channels_last)
                out.append(fn(net, x))
        return out

    def score_frames(self, windows, *, batch=32):
        """Frame scores (n, out_frames, n_classes) of waveform windows (n, window_samples)."""
        if len(windows) == 0:
            return np.zeros((0, self.out_frames, self.n_classes), np.float32)
        return np.concatenate(self._run(
            windows, batch, lambda net, x: net.clip_and_frames(x)[1].float().cpu().numpy()))

    def score_windows(self, windows, *, batch=32):
        """One score per window and class (n, n_classes): the frames pooled by
        ``clip_pooling``."""
        if len(windows) == 0:
            return np.zeros((0, self.n_classes), np.float32)

        def pooled(net, x):
            clip, frames = net.clip_and_frames(x)
            return (clip if self.clip_pooling == "attention"
                    else frames.amax(dim=1)).float().cpu().numpy()
        return np.concatenate(self._run(windows, batch, pooled))

    def event_targets(self, events, starts, window, n_classes):
        """Frame targets of drawn training windows (:func:`frame_targets` on this model's
        frame grid); the training loop's ``event_targets``."""
        return frame_targets(events, starts, window, n_classes, step=self.frame_step_samples,
                             n_frames=self.out_frames)

    def get_state(self):
        config, arrays = super().get_state()
        config["outputs"] = "frames"
        config["clip_pooling"] = self.clip_pooling
        return config, arrays

    @classmethod
    def _config_kwargs(cls, config):
        # from_state (inherited, with its ModelFileError checks) builds the model with these
        return {"clip_pooling": config.get("clip_pooling", "max")}


class WindowFrames:
    """A window classifier seen as a frame model: each window's score on every one of its
    frames.

    Parameters
    ----------
    model : window model
        Anything with ``features`` and ``score_windows(windows) -> (n, n_classes)``.
    frame_step_s : float
        Frame length in seconds (rounded to whole samples; windows are placed on this grid, so
        the hop between windows is a whole number of frames).
    """

    #: Every frame of a window weighs the same when windows are stitched.
    uniform_frames = True

    def __init__(self, model, *, frame_step_s):
        self.model = model
        self.features = model.features
        self.n_classes = model.n_classes
        sr = self.features.sample_rate
        self.frame_step_samples = max(1, int(round(frame_step_s * sr)))
        self.out_frames = max(1, int(round(self.features.window_samples /
                                           self.frame_step_samples)))

    def score_frames(self, windows, *, batch=32):
        s = np.asarray(self.model.score_windows(windows), np.float32)
        return np.repeat(s[:, None, :], self.out_frames, axis=1)
