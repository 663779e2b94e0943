"""Models: they take feature tensors (or waveform windows) and return scores.

- :mod:`earmark.models.cnn`: CNNs trained from scratch (SB-CNN baseline, modern small CNN).
- :mod:`earmark.models.transfer`: ImageNet CNNs fine-tuned on log-mel images
  (``--recipe transfer:efficientnet``; the network is :mod:`earmark.models.efficientnet`).
- :mod:`earmark.models.neural`: a torch network with its front end, scoring waveform windows.
- :mod:`earmark.models.embedded`: a pretrained embedding + scikit-learn head, scoring windows the
  same way (``--recipe embed:yamnet+logreg``).
- :mod:`earmark.models.embeddings`: YAMNet, BirdNET, EfficientNet-Lite0, classic statistics, your
  own ONNX model; the offline installer and the embedding cache.
- :mod:`earmark.models.heads`: scikit-learn heads saved as plain arrays (no pickle).
"""

from .cnn import NETWORKS, SBCNN, SmallCNN, build_network
from .neural import NeuralWindowModel

__all__ = ["NETWORKS", "SBCNN", "SmallCNN", "build_network", "NeuralWindowModel"]
