"""The one interface every embedding model has: waveform windows in, fixed-size vectors out."""

import contextlib

import numpy as np

from ...errors import ParameterError

__all__ = ["Embedder", "fit_to_length", "torch_threads"]


@contextlib.contextmanager
def torch_threads(n):
    """Run torch with ``n`` intra-op threads inside the block (None: leave it as it is).

    torch's thread count is global to the process, so it is set for the block only.
    """
    if not n:
        yield
        return
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def fit_to_length(windows, length, hop):
    """Cut or pad each window to exactly ``length`` samples for a model with a fixed input.

    A window shorter than ``length`` is zero-padded at its end; a longer one is cut into pieces
    of ``length`` at ``hop``, with one more piece flush with its end when the hops do not reach
    it (the same rule as earmark's analysis windows).

    Returns
    -------
    pieces : np.ndarray, (m, length) float32
    owner : np.ndarray, (m,) int
        Index of the window each piece came from (embeddings of pieces are averaged per window).

    Examples
    --------
    >>> p, owner = fit_to_length(np.ones((2, 5), np.float32), 4, 2)
    >>> p.shape, owner.tolist()
    ((4, 4), [0, 0, 1, 1])
    """
    n, samples = windows.shape
    if samples <= length:
        out = np.zeros((n, length), np.float32)
        out[:, :samples] = windows
        return out, np.arange(n)
    starts = list(range(0, samples - length + 1, hop))
    if starts[-1] + length < samples:
        starts.append(samples - length)
    pieces = np.stack([windows[:, s:s + length] for s in starts], axis=1)
    return (np.ascontiguousarray(pieces.reshape(n * len(starts), length), dtype=np.float32),
            np.repeat(np.arange(n), len(starts)))


def mean_by_owner(values, owner, n):
    """Average rows of ``values`` that share an ``owner`` index; (n, dim) float32."""
    if len(owner) == n and np.array_equal(owner, np.arange(n)):
        return np.asarray(values, np.float32)
    out = np.zeros((n, values.shape[1]), np.float64)
    np.add.at(out, owner, values)
    return (out / np.bincount(owner, minlength=n)[:, None]).astype(np.float32)


class Embedder:
    """Base class: turns waveform windows into embeddings.

    Subclasses set the attributes below and implement ``_embed_batch``.

    Attributes
    ----------
    name : str
        The name ``get_embedder`` accepts ('yamnet', 'birdnet', ...).
    sample_rate : int
        Sample rate (Hz) of the audio ``embed`` expects.
    window_s, hop_s : float
        The model's natural analysis window and hop (seconds). ``embed`` accepts other window
        lengths too (see each model).
    dim : int
        Length of one embedding.
    licence : str
        Licence of the model weights (stored in every model trained on the embedding).

    Examples
    --------
    >>> from earmark.models.embeddings import get_embedder
    >>> emb = get_embedder("classic")
    >>> x = np.zeros((3, emb.window_samples), np.float32)
    >>> emb.embed(x).shape == (3, emb.dim)
    True
    """

    name = "base"
    sample_rate = 16000
    window_s = 1.0
    hop_s = 0.5
    dim = 0
    licence = ""
    default_batch_size = 32

    @property
    def window_samples(self):
        """Natural window length in samples."""
        return int(round(self.window_s * self.sample_rate))

    @property
    def hop_samples(self):
        return max(1, int(round(self.hop_s * self.sample_rate)))

    def settings(self):
        """Everything that determines the embedding (JSON-able): cache keys, model files."""
        return {"name": self.name, "sample_rate": self.sample_rate, "window_s": self.window_s,
                "hop_s": self.hop_s, "dim": self.dim, "licence": self.licence}

    def __repr__(self):
        return (f"{type(self).__name__}(name={self.name!r}, sample_rate={self.sample_rate}, "
                f"window_s={self.window_s}, dim={self.dim})")

    def _check(self, windows):
        x = np.asarray(windows)
        if x.ndim == 1:
            x = x[None]
        if x.ndim != 2 or x.shape[1] == 0:
            raise ParameterError(
                f"{type(self).__name__}.embed: windows must be a (n, samples) array of audio at "
                f"{self.sample_rate} Hz. Got shape {x.shape} instead.")
        if not np.issubdtype(x.dtype, np.floating):
            raise ParameterError(f"{type(self).__name__}.embed: windows must be float audio in "
                                 f"[-1, 1]. Got dtype {x.dtype} instead.")
        x = np.ascontiguousarray(x, dtype=np.float32)
        if not np.all(np.isfinite(x)):
            raise ParameterError(f"{type(self).__name__}.embed: windows contain NaN or "
                                 "infinite samples.")
        return x

    def embed(self, windows, *, batch_size=None, progress=False):
        """Embed waveform windows.

        Parameters
        ----------
        windows : np.ndarray, (n, samples)
            Mono float audio at ``sample_rate``. Usually ``samples == window_samples``.
        batch_size : int or None
            Windows per model call (default: the model's ``default_batch_size``).
        progress : bool
            Show a progress bar (tqdm).

        Returns
        -------
        np.ndarray, (n, dim) float32
        """
        x = self._check(windows)
        bs = self.default_batch_size if batch_size is None else batch_size
        if isinstance(bs, bool) or not isinstance(bs, (int, np.integer)) or bs < 1:
            raise ParameterError(f"The 'batch_size' parameter of {type(self).__name__}.embed "
                                 f"must be an int in [1, inf). Got {batch_size!r} instead.")
        out = np.empty((len(x), self.dim), np.float32)
        starts = range(0, len(x), bs)
        if progress:
            from tqdm.auto import tqdm
            starts = tqdm(starts, desc=f"embedding ({self.name})", unit="batch")
        for s in starts:
            out[s:s + bs] = self._embed_batch(x[s:s + bs])
        return out

    def _embed_batch(self, x):
        raise NotImplementedError
