"""EfficientNet-Lite0 (ImageNet) as a frozen embedding: pooled 1280-d features of a log-mel image.

The log-mel image is earmark's own (:class:`earmark.features.FeatureExtractor`, dB): 32 kHz,
n_fft 1024, hop 320 (10 ms), 128 mel bands 50-14000 Hz, so a 1 s window is a 128 x 101 image
(4 x 4 cells at the last feature map). The dB-to-pixel mapping is documented in
:mod:`earmark.models.efficientnet`. The same network is fine-tuned by the training code.
"""

import os
from pathlib import Path

import numpy as np
import torch

from ...config import FeatureConfig
from ...errors import ModelFileError
from .base import Embedder, torch_threads
from .install import load_manifest

__all__ = ["EfficientNetEmbedder", "convert", "FEATURES"]

#: The front end of the frozen embedding (and a good default for fine-tuning).
FEATURES = FeatureConfig(sample_rate=32000, n_fft=1024, hop_length=320, n_mels=128, fmin=50.0,
                         fmax=14000.0, top_db=80.0, window_s=1.0, hop_s=0.5, normalize="none")


def convert(extracted, out_dir):
    """Installer step: the package's ``.pth`` (read with ``weights_only=True``) -> ``.npz``."""
    from ..efficientnet import EfficientNetLite0

    state = torch.load(os.fspath(extracted["model"]), map_location="cpu", weights_only=True)
    # Strict load into earmark's architecture: proves the file is the network we expect.
    EfficientNetLite0().load_state_dict(state, strict=True)
    path = Path(out_dir) / "efficientnet_lite0_imagenet.npz"
    np.savez(path, **{k: v.numpy() for k, v in state.items()})
    return {"model": path.name}


class EfficientNetEmbedder(Embedder):
    """Frozen EfficientNet-Lite0 features (1280-d) of earmark's log-mel image.

    Windows of any length of at least ``n_fft`` samples are accepted (the features are averaged
    over the whole image).

    Parameters
    ----------
    home : path-like or None
        earmark's data folder (default ``$EARMARK_HOME`` or ``~/.cache/earmark``).
    features : FeatureConfig
        Front end (default :data:`FEATURES`); ``sample_rate``, ``window_s`` and ``hop_s`` come
        from it.
    num_threads : int or None
        torch threads while embedding (None: torch's current setting). On a shared machine,
        1 can be much faster than 2 (see benchmarks/embedding_throughput.py).

    Raises
    ------
    ModelNotInstalledError
        The weights are not installed; the message says ``earmark models install efficientnet``.

    Examples
    --------
    >>> emb = EfficientNetEmbedder()  # doctest: +SKIP
    >>> emb.embed(np.zeros((2, 32000), np.float32)).shape  # doctest: +SKIP
    (2, 1280)
    """

    name = "efficientnet"
    dim = 1280
    default_batch_size = 32

    def __init__(self, *, home=None, features=FEATURES, num_threads=None):
        from ...features import FeatureExtractor
        from ..efficientnet import EfficientNetLite0

        self.features = features
        self.num_threads = num_threads
        self.sample_rate = features.sample_rate
        self.window_s = features.window_s
        self.hop_s = features.hop_s
        self.net = EfficientNetLite0().load_imagenet_weights(home=home).eval()
        try:
            manifest = load_manifest("efficientnet", home=home)
            self.licence = manifest["licence"]
            self.model_sha256 = manifest["files"]["model"]["sha256"]
        except ModelFileError:      # weights came from the pip package instead
            from .install import MODELS
            self.licence = MODELS["efficientnet"].licence
            self.model_sha256 = MODELS["efficientnet"].members["model"][1]
        self._fx = FeatureExtractor(features).eval()

    def settings(self):
        s = super().settings()
        s.update(model_sha256=self.model_sha256, features=self.features.to_dict(),
                 db_range=self.net.db_range, pooling="mean of the last feature map")
        return s

    def _embed_batch(self, x):
        if x.shape[1] < self.features.n_fft:
            x = np.pad(x, [(0, 0), (0, self.features.n_fft - x.shape[1])])
        with torch.inference_mode(), torch_threads(self.num_threads):
            return self.net.features(self._fx(torch.from_numpy(x))).numpy()
