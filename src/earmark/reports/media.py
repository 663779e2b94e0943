"""Audio in a report: a short compressed clip to listen to and its log-mel spectrogram.

A clip is at most ``MAX_CLIP_S`` seconds, mono, 16 kHz, OGG/Vorbis (FLAC where this libsndfile has
no Vorbis encoder), so a report with a few dozen players stays around a megabyte.
"""

import functools
import io

import numpy as np
import soundfile as sf

from .. import audio as earmark_audio
from ..errors import AudioError, EarmarkError
from ..features import log_mel
from .html import data_uri, esc
from .plots import spectrogram_png

__all__ = ["MAX_CLIP_S", "CLIP_SAMPLE_RATE", "encode_clip", "clip_and_spectrogram",
           "media_html"]

MAX_CLIP_S = 4.0
CLIP_SAMPLE_RATE = 16000
# Spectrograms are drawn at up to 22.05 kHz so they show content the 16 kHz clip cannot carry.
SPEC_SAMPLE_RATE = 22050
SPEC_HOP = 256


@functools.lru_cache(maxsize=1)
def _clip_format():
    if "VORBIS" in sf.available_subtypes("OGG"):
        try:
            sf.write(io.BytesIO(), np.zeros(1600, np.float32), CLIP_SAMPLE_RATE, format="OGG",
                     subtype="VORBIS")
            return "OGG", "VORBIS", "audio/ogg"
        except Exception:  # some libsndfile builds list Vorbis but cannot encode it
            pass
    return "FLAC", "PCM_16", "audio/flac"


def _ogg_crc_table():
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else (r << 1)
        table.append(r & 0xFFFFFFFF)
    return table


_OGG_CRC = _ogg_crc_table()


def _fix_ogg_serial(data, serial=0x6561726D):
    """Give every page of an Ogg stream the same serial number (and recompute its checksum).

    libsndfile draws a random stream serial, so the same clip would encode to different bytes on
    each run; a fixed serial makes a report byte-identical when its inputs are.
    """
    out = bytearray(data)
    pos = 0
    while pos + 27 <= len(out) and out[pos:pos + 4] == b"OggS":
        n_segments = out[pos + 26]
        size = 27 + n_segments + sum(out[pos + 27:pos + 27 + n_segments])
        out[pos + 14:pos + 18] = serial.to_bytes(4, "little")
        out[pos + 22:pos + 26] = b"\0\0\0\0"
        crc = 0
        for byte in out[pos:pos + size]:
            crc = ((crc << 8) & 0xFFFFFFFF) ^ _OGG_CRC[(crc >> 24) ^ byte]
        out[pos + 22:pos + 26] = crc.to_bytes(4, "little")
        pos += size
    return bytes(out)


def encode_clip(y, sample_rate):
    """Encode a mono float signal as a ``data:`` URI of a short compressed clip.

    The signal is cut to ``MAX_CLIP_S`` seconds and resampled to ``CLIP_SAMPLE_RATE``.

    Examples
    --------
    >>> import numpy as np
    >>> encode_clip(np.zeros(8000, np.float32), 16000)[:20]
    'data:audio/ogg;base6'
    """
    y = np.asarray(y, dtype=np.float32)[: int(MAX_CLIP_S * sample_rate)]
    y = earmark_audio.resample(y, sample_rate, CLIP_SAMPLE_RATE)
    # Vorbis overshoots a little at full scale; a clipped file stays audibly clipped anyway.
    y = np.clip(y, -1.0, 1.0)
    fmt, subtype, mime = _clip_format()
    buf = io.BytesIO()
    sf.write(buf, y, CLIP_SAMPLE_RATE, format=fmt, subtype=subtype)
    data = buf.getvalue()
    if fmt == "OGG":
        data = _fix_ogg_serial(data)
    return data_uri(data, mime)


def clip_and_spectrogram(path, *, start_s=None, end_s=None, title=None):
    """Load (a region of) ``path`` and return ``(audio_uri, spectrogram_uri, seconds_shown)``.

    Only the first ``MAX_CLIP_S`` seconds of the region are read, so a long recording costs no
    more than a short one.

    Raises
    ------
    AudioError
        The file is missing or cannot be decoded (the message names it).
    """
    start = 0.0 if start_s is None else float(start_s)
    stop = start + MAX_CLIP_S if end_s is None else min(float(end_s), start + MAX_CLIP_S)
    y, sr = earmark_audio.load(path, start_s=start, end_s=stop)
    if y.size == 0:
        raise AudioError(path, "no audio samples to show")
    audio_uri = encode_clip(y, sr)
    spec_sr = min(sr, SPEC_SAMPLE_RATE)
    y_spec = earmark_audio.resample(y, sr, spec_sr)
    S = log_mel(y_spec, sample_rate=spec_sr, n_fft=1024, hop_length=SPEC_HOP, n_mels=64)
    spec_uri = spectrogram_png(S, sample_rate=spec_sr, hop_length=SPEC_HOP, fmax=spec_sr / 2,
                               title=title)
    return audio_uri, spec_uri, len(y) / sr


def _shown_caption(shown_s, start_s, end_s):
    cut = (start_s is not None and end_s is not None and end_s - start_s > MAX_CLIP_S + 1e-6)
    return f"{shown_s:.2f} s shown{' (first 4 s)' if cut else ''}"


def media_html(path, *, start_s=None, end_s=None, alt="log-mel spectrogram", caption=None):
    """The audio block of a report card: the spectrogram, an audio player and a caption.

    Parameters
    ----------
    path : str or path-like
        The audio file, read with :func:`clip_and_spectrogram` (region ``start_s`` to ``end_s``).
    alt : str
        The spectrogram's alternative text.
    caption : callable or None
        ``caption(seconds_shown)`` gives the line under the player; None: "1.50 s shown", with
        "(first 4 s)" when the region is longer than ``MAX_CLIP_S``.

    Returns
    -------
    str
        HTML; for a file that cannot be read, a note saying why instead.
    """
    try:
        audio_uri, spec_uri, shown_s = clip_and_spectrogram(path, start_s=start_s, end_s=end_s)
    except EarmarkError as exc:
        return f'<p class="note">Audio not shown: {esc(exc)}</p>'
    text = _shown_caption(shown_s, start_s, end_s) if caption is None else caption(shown_s)
    return (f'<img alt="{esc(alt)}" src="{spec_uri}">'
            f'<audio controls preload="metadata" src="{audio_uri}"></audio>'
            f'<div class="muted" style="font-size:12px">{esc(text)}</div>')
