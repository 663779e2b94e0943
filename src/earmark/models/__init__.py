"""Models: they take feature tensors (or waveform windows) and return scores.

- :mod:`earmark.models.cnn`: CNNs trained from scratch (SB-CNN baseline, modern small CNN).
- :mod:`earmark.models.neural`: a torch network with its front end, scoring waveform windows.
"""

from .cnn import NETWORKS, SBCNN, SmallCNN, build_network
from .neural import NeuralWindowModel

__all__ = ["NETWORKS", "SBCNN", "SmallCNN", "build_network", "NeuralWindowModel"]
