"""Audio input: decode, resample, mix to mono, and iterate long files in blocks.

Decoding uses libsndfile (through ``soundfile``): WAV, FLAC, OGG/Vorbis, OGG/Opus, MP3 (libsndfile
1.1 or newer), AIFF and the other formats ``soundfile.available_formats()`` lists. Integer and
float samples are both returned as float32 in [-1, 1]. Resampling uses soxr (high quality).

Every reader checks the samples as it decodes them, block by block: NaN, infinite and absurd
values (beyond ``MAX_ABS_SAMPLE``, possible only in float files) raise :class:`AudioError`
naming the file, so no such sample reaches features, training or prediction.

This module knows files and sample rates, nothing about models.
"""

import hashlib
import os
from dataclasses import dataclass

import numpy as np
import soundfile as sf
import soxr

from .errors import AudioError

__all__ = ["AUDIO_EXTENSIONS", "MAX_ABS_SAMPLE", "AudioInfo", "info", "load", "iter_blocks",
           "content_hash", "ContentHash", "resample", "to_mono", "hash_samples", "check_samples"]

#: File endings earmark treats as audio when it scans folders.
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".au",
                    ".w64", ".rf64", ".caf")

#: Largest sample magnitude earmark accepts. Integer audio decodes to [-1, 1]; float audio may
#: go a little beyond full scale (a mix that was not limited), but a value past 1000 (+60 dBFS)
#: is a file written with the wrong scale (e.g. int16 values stored as float) or damaged, and
#: it turns features and training losses into inf/NaN.
MAX_ABS_SAMPLE = 1e3

#: Frames decoded at a time by :func:`content_hash` and :func:`load`.
_HASH_BLOCK_FRAMES = 1 << 18
#: Most bytes of decoded samples in one block, whatever the channel count a header claims.
_MAX_BLOCK_BYTES = 64 * 2 ** 20


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
    # libsndfile reports an unreadable file as "System error.": ask the file system first
    try:
        st = os.stat(path)
    except PermissionError:
        return AudioError(path, "permission denied (its folder cannot be read)")
    except OSError:
        return AudioError(path, "file not found")
    if os.path.isdir(path):
        return AudioError(path, "is a folder, not an audio file")
    if isinstance(exc, PermissionError) or not os.access(path, os.R_OK):
        return AudioError(path, "permission denied")
    if st.st_size == 0:
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


def check_samples(path, y):
    """Raise :class:`AudioError` naming ``path`` when ``y`` holds NaN, infinite or absurd
    samples (``|x| > MAX_ABS_SAMPLE``); return ``y``.

    Two passes without temporaries (``min`` and ``max``; NaN propagates through both), so a
    block costs a fraction of decoding it.

    Examples
    --------
    >>> import numpy as np
    >>> check_samples("ok.wav", np.array([0.5, -1.0], np.float32)).tolist()
    [0.5, -1.0]
    >>> check_samples("bad.wav", np.array([0.5, 1e30], np.float32))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    earmark.errors.AudioError: bad.wav: sample values reach 1e+30, beyond the +-1000 earmark ...
    """
    if y.size == 0:
        return y
    lo, hi = float(np.min(y)), float(np.max(y))
    if lo >= -MAX_ABS_SAMPLE and hi <= MAX_ABS_SAMPLE:
        return y
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise AudioError(path, "audio contains NaN or infinite samples")
    peak = max(-lo, hi)
    raise AudioError(path, f"sample values reach {peak:.3g}, beyond the +-{MAX_ABS_SAMPLE:g} "
                           "earmark accepts (MAX_ABS_SAMPLE): float audio scaled wrongly (e.g. "
                           "integer values stored as float) or a damaged file")


def _raw_blocks(path, block_frames, *, start=0, stop=None):
    """The file's samples from frame ``start`` to ``stop`` as decoded, (frames, channels) float32
    at its own rate, in blocks of at most ``block_frames`` (and :data:`_MAX_BLOCK_BYTES`), each
    checked by :func:`check_samples`; decoding errors become :class:`AudioError`.

    Reads until the data end, whatever the header says: a header that claims more frames than
    the file holds (a damaged or hostile file) costs neither memory nor time.
    """
    try:
        with sf.SoundFile(path) as f:
            n_block = max(1, min(int(block_frames), _MAX_BLOCK_BYTES // (4 * max(f.channels, 1))))
            if start >= f.frames:
                return
            if start:
                f.seek(start)
            left = None if stop is None else stop - start
            while left is None or left > 0:
                want = n_block if left is None else min(n_block, left)
                # soundfile's own blocks() would go on yielding empty buffers up to the
                # header's frame count: read, and stop at the first short read
                raw = f.read(want, dtype="float32", always_2d=True)
                if len(raw):
                    yield check_samples(path, raw)
                if len(raw) < want:
                    return
                if left is not None:
                    left -= len(raw)
    except AudioError:
        raise
    except Exception as exc:  # soundfile raises several types (LibsndfileError, RuntimeError)
        raise _open_error(path, exc) from None


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
    # in blocks, each checked: the header's frame count decides no allocation
    blocks = list(_raw_blocks(path, _HASH_BLOCK_FRAMES, start=start, stop=stop))
    if not blocks:
        where = "" if start_s is None else f" in region {start_s}-{end_s} s"
        raise AudioError(path, f"no audio samples{where} (file has {meta.duration_s:.3f} s)")
    y = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
    del blocks
    if mono:
        y = to_mono(y)
    if sample_rate is not None and sample_rate != sr:
        y = resample(y, sr, sample_rate)
        sr = int(sample_rate)
    return y, sr


def iter_blocks(path, *, sample_rate=None, block_s=30.0, mono=True):
    """Yield the float32 audio of ``path`` in consecutive blocks, resampled on the fly.

    Memory stays bounded whatever the file length: only one block (plus the resampler's state) is
    held at a time. Concatenating the blocks gives the same samples as :func:`load` up to the
    resampler's streaming precision. Every block is checked as it is decoded
    (:func:`check_samples`).

    Parameters
    ----------
    path : str or path-like
    sample_rate : int or None
        Resample to this rate; None keeps the file's rate.
    block_s : float
        Seconds of the file decoded at a time.
    mono : bool
        Average the channels (default): 1-D blocks. If False the blocks are (frames, channels).

    Raises
    ------
    AudioError
        Missing, unreadable or empty file, or NaN, infinite or absurd samples (raised at the
        block that holds them). The message names the file.

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
    channels = 1 if mono else meta.channels
    stream = None if target == sr else soxr.ResampleStream(sr, target, channels,
                                                          dtype="float32", quality="HQ")
    any_samples = False
    for raw in _raw_blocks(path, block):
        y = to_mono(raw) if mono else raw
        if stream is not None:
            y = stream.resample_chunk(y, last=False)
        if len(y):
            any_samples = True
            yield y
    if stream is not None:
        tail = stream.resample_chunk(np.zeros((0,) if mono else (0, channels), np.float32),
                                     last=True)
        if len(tail):
            any_samples = True
            yield tail
    if not any_samples:
        raise AudioError(path, "no audio samples (file is empty)")


def _update_hash(h, frames):
    q = np.clip(np.round(np.asarray(frames, np.float32) * 32768.0), -32768, 32767).astype("<i2")
    h.update(np.ascontiguousarray(q).tobytes())


class ContentHash:
    """:func:`content_hash` fed block by block: ``update`` with (frames, channels) samples at
    the file's rate, then ``hexdigest()``.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.zeros((100, 2), np.float32)
    >>> h = ContentHash(16000, 2).update(y[:60]).update(y[60:])
    >>> h.hexdigest() == hash_samples(y, 16000)
    True
    """

    def __init__(self, sample_rate, channels):
        self._h = hashlib.sha1(f"{int(sample_rate)}:{int(channels)}:".encode())

    def update(self, frames):
        _update_hash(self._h, frames)
        return self

    def hexdigest(self):
        return self._h.hexdigest()


def hash_samples(y, sample_rate):
    """SHA-1 of samples (frames, channels) quantised to 16 bits, with the rate and channel count.

    Equal to :func:`content_hash` of a file holding those samples.
    """
    y = np.asarray(y, np.float32)
    y = y[:, None] if y.ndim == 1 else y
    return ContentHash(sample_rate, y.shape[1]).update(y).hexdigest()


def content_hash(path):
    """SHA-1 of the decoded samples (all channels, native rate, 16-bit) of ``path``.

    Two files with identical audio have the same hash whatever their container, tags or names.
    """
    path = os.fspath(path)
    meta = info(path)
    h = ContentHash(meta.sample_rate, meta.channels)
    for raw in _raw_blocks(path, _HASH_BLOCK_FRAMES):
        h.update(raw)
    return h.hexdigest()
