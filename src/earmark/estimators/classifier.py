"""SoundClassifier: one class per clip, the estimator a scikit-learn user would guess.

``SoundClassifier(...).fit(data)``, ``.predict(paths)``, ``.predict_proba(paths)``, ``.save(path)``
and :func:`earmark.load`.
"""

import numpy as np

from .base import RECIPE_DEFAULTS, WindowEstimator

__all__ = ["SoundClassifier", "RECIPE_DEFAULTS"]


class SoundClassifier(WindowEstimator):
    """Classify sounds: a CNN trained on log-mel analysis windows, or a scikit-learn head on the
    embeddings of a pretrained model.

    Parameters
    ----------
    recipe : str
        'cnn' (default): a CNN trained from scratch, chosen by ``model``.
        'embed:<embedder>+<head>', e.g. 'embed:yamnet+logreg': a head ('logreg', 'svm', 'rf',
        'mlp'; tuned by inner cross-validation, see :mod:`earmark.models.heads`) on the window
        embeddings of 'yamnet', 'birdnet', 'efficientnet', 'classic' or 'onnx:PATH' (see
        :mod:`earmark.models.embeddings`; pretrained ones are installed once with
        ``earmark models install NAME``). The embedder fixes the sample rate and the windows
        (``features`` must be None), and the epochs, learning rate, augmentation and
        validation settings below do not apply. The embedder's licence is stored in the model
        (BirdNET: non-commercial only).
        'transfer:efficientnet': EfficientNet-Lite0 with its ImageNet weights (installed once
        with ``earmark models install efficientnet``), fine-tuned on 128-band log-mel images by
        the same training loop as the CNNs, the backbone frozen for ``freeze_epochs`` and then
        trained at ``backbone_lr_scale`` x ``learning_rate`` (see
        :mod:`earmark.models.transfer`). ``features`` None uses its front end; a given one
        must be log-mel with ``normalize='none'``. ``model`` does not apply.
    model : {'sbcnn', 'cnn'}
        'sbcnn' — the SB-CNN (default: the best measured on the drums and instruments
        benchmarks, and the fastest); 'cnn' — a deeper modern small CNN.
    features : FeatureConfig or dict or None
        Front end and analysis windows. None uses ``FeatureConfig()`` with the analysis window
        chosen from the training clips: the shortest of 0.25, 0.5, 1, 2, 3 or 4 s that holds
        the median clip (up to 10 % longer than the window), hop half a window (``features_``
        holds what was used). A dict changes those fields of the default (of the transfer
        front end for 'transfer:...'); without 'window_s' the window is still chosen from the
        clips, and with 'window_s' but no 'hop_s' the hop is half the window. A FeatureConfig
        is used as it is. With an embedding recipe: the embedder's own.
    aggregation : {'mean', 'max', 'vote'} or None
        How window scores become a clip score: mean (probabilistic voting), max, majority vote.
        None: 'mean'.
    epochs, batch_size, learning_rate, weight_decay, patience, val_fraction, balance
        (``val_fraction`` None: 0)
        Training settings; see :class:`earmark.train.TrainConfig`. ``epochs`` and
        ``learning_rate`` None mean the recipe's default: 60 epochs at 3e-3 for 'cnn', 15 epochs
        at 1e-3 for 'transfer:...' (see :data:`RECIPE_DEFAULTS`). With ``val_fraction > 0``
        a validation split is carved out by group and training stops early on it; the default
        (0) trains on every clip for ``epochs`` epochs, which measured better on small data
        (README, "Choosing the defaults").
    freeze_epochs, backbone_lr_scale
        Transfer recipes only (see above); ``backbone_lr_scale`` None: 1.0 (the whole network
        at ``learning_rate`` once unfrozen, which measured better than 0.1 on drums).
    augment : str, dict, Augmentation or None
        Augmentations: 'default', 'none', or a list such as
        'shift,stretch,pitch,noise,mixup,specaugment' (see :mod:`earmark.augment`). 'default'
        is gain, the random equaliser, SpecAugment and mixup for the CNNs, and pitch-shift and
        gain for 'transfer:...' (:data:`earmark.augment.DEFAULT_SETS`; README, "Choosing the
        defaults").
    seed : int
        The same seed, data and settings give the same model.
    device : {'auto', 'cpu', 'cuda'}
    progress : bool
        Show progress bars.

    Attributes
    ----------
    classes_ : list of str
    history_ : list of dict
        Per-epoch training curves (empty for embedding recipes).
    train_info_ : dict
        Best epoch, early stop, Ctrl-C, wall time, data summary (embedding recipes: windows,
        the head's inner-CV score and parameters, embedding-cache hits).
    model_ : NeuralWindowModel or EmbeddingWindowModel
    licence_ : str or None
        Licence of the pretrained weights the model was built on (None for a CNN).

    Examples
    --------
    >>> import earmark
    >>> clf = earmark.SoundClassifier(epochs=20).fit("drums/")        # doctest: +SKIP
    >>> clf.predict(["kick.wav"])                                     # doctest: +SKIP
    array(['kick'], dtype=object)
    >>> clf.save("drums.earmark")                                     # doctest: +SKIP
    >>> earmark.load("drums.earmark").predict_proba(["kick.wav"])      # doctest: +SKIP
    >>> emb = earmark.SoundClassifier(recipe="embed:yamnet+logreg").fit("drums/")  # doctest: +SKIP
    """

    task = "classification"
    kind = "classifier"
    task_defaults = {"val_fraction": 0.0}

    def predict(self, sources):
        """Predicted class names for files, folders or CSV lists."""
        p = self.predict_proba(sources)
        return np.array(self.classes_, dtype=object)[p.argmax(axis=1)]
