"""Audio input: decode, resample, mix to mono, and iterate long files in blocks.

Decoding uses libsndfile (through ``soundfile``): WAV, FLAC, OGG/Vorbis, OGG/Opus, MP3 (libsndfile
1.1 or newer), AIFF and the other formats ``soundfile.available_formats()`` lists. Integer and
float samples are both returned as float32 in [-1, 1]. Resampling uses soxr (high quality).

This module knows files and sample rates, nothing about models.
"""

import hashlib
import os
from dataclasses import dataclass

import numpy as np
import soundfile as sf
import soxr

from .errors import AudioError

__all__ = ["AUDIO_EXTENSIONS", "AudioInfo", "info", "load", "iter_blocks", "content_hash",
           "resample", "to_mono", "hash_samples"]

#: File endings earmark treats as audio when it scans folders.
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".au",
                    ".w64", ".rf64", ".caf")


@dataclass(frozen=True)
class AudioInfo:
    """What the header of an audio file says."""

    path: str
    sample_rate: int
    channels: int
    frames: int
    format: str
    subtype: str

    @property
    def duration_s(self):
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def _open_error(path, exc):
    if not os.path.exists(path):
        return AudioError(path, "file not found")
    if os.path.isdir(path):
        return AudioError(path, "is a folder, not an audio file")
    if os.path.getsize(path) == 0:
        return AudioError(path, "file is empty (0 bytes)")
    msg = str(exc).split("\n")[0]
    return AudioError(path, f"cannot decode audio ({msg}); readable formats: WAV, FLAC, OGG, MP3, "
                            "AIFF (libsndfile)")


def info(path):
    """Read the header of ``path``.

    Raises
    ------
    AudioError
        If the file is missing or cannot be decoded.

    Examples
    --------
    >>> import earmark.audio
    >>> earmark.audio.info("kick.wav").duration_s  # doctest: +SKIP
    0.5
    """
    path = os.fspath(path)
    try:
        i = sf.info(path)
    except Exception as exc:  # soundfile raises several types (LibsndfileError, RuntimeError)
        raise _open_error(path, exc) from None
    # libsndfile reports MP3 frame counts as an estimate; good enough for a header.
    return AudioInfo(path, int(i.samplerate), int(i.channels), int(i.frames), i.format, i.subtype)


def to_mono(y):
    """Average the channels of a (frames, channels) array into one float32 channel."""
    y = np.asarray(y, dtype=np.float32)
    if y.ndim == 2:
        y = y.mean(axis=1, dtype=np.float32) if y.shape[1] > 1 else y[:, 0]
    return np.ascontiguousarray(y, dtype=np.float32)


def resample(y, orig_sr, target_sr):
    """Resample a 1-D or (frames, channels) array with soxr; returns float32."""
    if orig_sr == target_sr:
        return np.asarray(y, dtype=np.float32)
    return soxr.resample(np.asarray(y, dtype=np.float32), orig_sr, target_sr, quality="HQ")


def load(path, *, sample_rate=None, mono=True, start_s=None, end_s=None):
    """Decode ``path`` (optionally a region of it) to float32.

    Parameters
    ----------
    path : str or path-like
    sample_rate : int or None
        Resample to this rate; None keeps the file's rate.
    mono : bool
        Average the channels (default). If False the result is (frames, channels).
    start_s, end_s : float or None
        Region to read, in seconds from the start of the file.

    Returns
    -------
    y : np.ndarray, float32
    sample_rate : int

    Raises
    ------
    AudioError
        Missing, unreadable or empty file, or a region outside the file. The message names the file.

    Examples
    --------
    >>> y, sr = earmark.audio.load("kick.wav", sample_rate=22050)  # doctest: +SKIP
    """
    path = os.fspath(path)
    meta = info(path)
    sr = meta.sample_rate
    start = 0 if start_s is None else int(round(float(start_s) * sr))
    stop = None if end_s is None else int(round(float(end_s) * sr))
    if start < 0 or (stop is not None and stop <= start):
        raise AudioError(path, f"invalid region start={start_s} s, end={end_s} s")
    try:
        y, _ = sf.read(path, start=start, stop=stop, dtype="float32", always_2d=True)
    except Exception as exc:
        raise _open_error(path, exc) from None
    if y.shape[0] == 0:
        where = "" if start_s is None else f" in region {start_s}-{end_s} s"
        raise AudioError(path, f"no audio samples{where} (file has {meta.duration_s:.3f} s)")
    if not np.all(np.isfinite(y)):
        raise AudioError(path, "audio contains NaN or infinite samples")
    if mono:
        y = to_mono(y)
    if sample_rate is not None and sample_rate != sr:
        y = resample(y, sr, sample_rate)
        sr = int(sample_rate)
    return y, sr


def iter_blocks(path, *, sample_rate=None, block_s=30.0):
    """Yield the mono float32 audio of ``path`` in consecutive blocks, resampled on the fly.

    Memory stays bounded whatever the file length: only one block (plus the resampler's state) is
    held at a time. Concatenating the blocks gives the same samples as :func:`load` up to the
    resampler's streaming precision.

    Examples
    --------
    >>> for block in earmark.audio.iter_blocks("hour.flac", sample_rate=22050):  # doctest: +SKIP
    ...     print(block.shape)
    """
    path = os.fspath(path)
    meta = info(path)
    sr = meta.sample_rate
    target = sr if sample_rate is None else int(sample_rate)
    block = max(1, int(block_s * sr))
    stream = None if target == sr else soxr.ResampleStream(sr, target, 1, dtype="float32",
                                                          quality="HQ")
    any_samples = False
    try:
        for raw in sf.blocks(path, blocksize=block, dtype="float32", always_2d=True):
            if not np.all(np.isfinite(raw)):
                raise AudioError(path, "audio contains NaN or infinite samples")
            y = to_mono(raw)
            if stream is not None:
                y = stream.resample_chunk(y, last=False)
            if len(y):
                any_samples = True
                yield y
    except AudioError:
        raise
    except Exception as exc:
        raise _open_error(path, exc) from None
    if stream is not None:
        tail = stream.resample_chunk(np.zeros(0, np.float32), last=True)
        if len(tail):
            any_samples = True
            yield tail
    if not any_samples:
        raise AudioError(path, "no audio samples (file is empty)")


def _update_hash(h, frames):
    q = np.clip(np.round(np.asarray(frames, np.float32) * 32768.0), -32768, 32767).astype("<i2")
    h.update(np.ascontiguousarray(q).tobytes())


def hash_samples(y, sample_rate):
    """SHA-1 of samples (frames, channels) quantised to 16 bits, with the rate and channel count.

    Equal to :func:`content_hash` of a file holding those samples.
    """
    y = np.asarray(y, np.float32)
    y = y[:, None] if y.ndim == 1 else y
    h = hashlib.sha1(f"{int(sample_rate)}:{y.shape[1]}:".encode())
    _update_hash(h, y)
    return h.hexdigest()


def content_hash(path):
    """SHA-1 of the decoded samples (all channels, native rate, 16-bit) of ``path``.

    Two files with identical audio have the same hash whatever their container, tags or names.
    """
    path = os.fspath(path)
    meta = info(path)
    h = hashlib.sha1(f"{meta.sample_rate}:{meta.channels}:".encode())
    try:
        for raw in sf.blocks(path, blocksize=1 << 18, dtype="float32", always_2d=True):
            if not np.all(np.isfinite(raw)):
                raise AudioError(path, "audio contains NaN or infinite samples")
            _update_hash(h, raw)
    except AudioError:
        raise
    except Exception as exc:
        raise _open_error(path, exc) from None
    return h.hexdigest()
