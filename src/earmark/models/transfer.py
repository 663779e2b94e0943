"""ImageNet CNNs fine-tuned on log-mel images: ``SoundClassifier(recipe="transfer:efficientnet")``.

The network is :class:`~earmark.models.efficientnet.EfficientNetLite0` with its ImageNet weights
and a new classifier for the dataset's classes. It is trained by the one training loop
(:func:`earmark.train.train_window_model`), the same as the CNNs from scratch, with two transfer
settings of :class:`~earmark.train.TrainConfig`: ``freeze_epochs`` (the backbone stays frozen
while the new classifier settles) and ``backbone_lr_scale`` (a lower learning rate for the
pretrained layers afterwards).

Its front end (:data:`FEATURES`) is earmark's log-mel in dB with 128 mel bands, *not*
normalised: the network maps each image to pixels relative to its own peak (see
:meth:`EfficientNetLite0.preprocess`), as a photograph is relative to its exposure. A 1-s window
at 22.05 kHz with a 256-sample hop is a 128 x 87 image (the network divides both sides by 32, so
a 512-sample hop leaves 2 time steps per second: on one drums fold that cost 0.80 -> 0.56).
"""

from ..config import FeatureConfig
from ..errors import ParameterError

__all__ = ["TRANSFER_NETWORKS", "FEATURES", "build_transfer_network", "check_transfer_features"]

#: name -> description of the networks a ``transfer:<name>`` recipe may name.
TRANSFER_NETWORKS = {
    "efficientnet": "EfficientNet-Lite0 with ImageNet weights (4.65 M parameters), fine-tuned",
}

#: The front end of the transfer recipes (window and hop are chosen from the clips, as for CNNs).
FEATURES = FeatureConfig(sample_rate=22050, n_fft=1024, hop_length=256, n_mels=128, fmin=20.0,
                         fmax=11025.0, top_db=80.0, window_s=1.0, hop_s=0.5, normalize="none")


def build_transfer_network(name, n_classes, *, n_features=None, frames=None, **kwargs):
    """The network of ``transfer:<name>``, randomly initialised (load the pretrained weights
    with its ``load_imagenet_weights()``; a saved model loads its own)."""
    if name != "efficientnet":
        raise ParameterError(f"unknown transfer network {name!r}; known: "
                             f"{sorted(TRANSFER_NETWORKS)}")
    from .efficientnet import EfficientNetLite0
    return EfficientNetLite0(num_classes=n_classes, **kwargs)


def check_transfer_features(features, *, owner="SoundClassifier"):
    """Refuse front ends the pretrained network cannot read (normalised dB or MFCCs)."""
    if features.kind != "logmel" or features.normalize != "none":
        raise ParameterError(
            f"The 'features' parameter of {owner} must be a log-mel front end with "
            f"normalize='none' for a transfer recipe (the network maps dB to pixels itself). Got "
            f"kind={features.kind!r}, normalize={features.normalize!r} instead.")
    return features
