"""Where streamed audio comes from: a microphone, raw PCM or WAV on a pipe, or a file.

Every source writes mono float32 samples at its own rate into a
:class:`~earmark.streaming.ring.RingBuffer` from its own thread (the audio callback of
PortAudio, or a reader thread), and does nothing else: no model work, no resampling, no buffer
allocated per block. The scorer reads the ring from another thread.

A *live* source (the microphone, a file paced in real time, a pipe read with ``live=True``)
never waits for the scorer: when the scorer falls behind it skips hops. Other sources wait for
the scorer when the ring is full, so every hop is scored.

This module knows audio, not models.
"""

import os
import struct
import sys
import threading
import time

import numpy as np

from .._validation import check_choice, check_number
from ..audio import check_samples, info, iter_blocks
from ..errors import AudioError, ParameterError

__all__ = ["Source", "MicrophoneSource", "PipeSource", "FileSource", "PIPE_FORMATS",
           "input_devices", "open_source", "read_wav_header"]

#: Sample formats of raw PCM on a pipe (``--format``); ``wav`` reads the header instead.
PIPE_FORMATS = ("s16le", "s32le", "f32le", "wav")
_RAW_DTYPES = {"s16le": ("<i2", 1 / 32768.0), "s32le": ("<i4", 1 / 2147483648.0),
               "f32le": ("<f4", 1.0)}
#: Frames a reader thread decodes at a time (10 ms at 16 kHz, 2.9 ms at 44.1 kHz: finer than
#: any hop, so a window's last sample is never held back for long).
CHUNK_FRAMES = 256


class Source:
    """What every source has: ``sample_rate``, ``live``, ``name``; ``start(ring)`` begins
    writing into ``ring`` (and closes it at the end), ``stop()`` ends early."""

    sample_rate = None
    live = False
    name = "audio"

    def start(self, ring):
        raise NotImplementedError

    def stop(self):
        pass


# --------------------------------------------------------------------------------------------
# the microphone


def input_devices():
    """The input devices PortAudio sees, as (index, name, default rate) tuples; empty when
    sounddevice or PortAudio is missing or the machine has no input."""
    try:
        import sounddevice as sd
    except (ImportError, OSError):
        return []
    try:
        devices = sd.query_devices()
    except Exception:  # PortAudio errors have their own type; any of them: no devices
        return []
    return [(i, d["name"], d["default_samplerate"]) for i, d in enumerate(devices)
            if d.get("max_input_channels", 0) > 0]


def _sounddevice():
    try:
        import sounddevice as sd
    except ImportError:
        raise ParameterError("the microphone needs the sounddevice package: pip install "
                             "'earmark[stream]'") from None
    except OSError as exc:
        raise ParameterError(f"the microphone needs the PortAudio library ({exc}); install "
                             "it with bash scripts/install_portaudio.sh (Debian: apt-get install "
                             "libportaudio2)") from None
    return sd


class MicrophoneSource(Source):
    """Audio from an input device, through PortAudio (``sounddevice.InputStream``).

    The callback copies each block's first channel into the ring and notes the time; that is
    all it does. Blocks the device reports as overflowed (audio lost before it reached
    earmark) are counted in ``device_overflows``.

    Parameters
    ----------
    device : int, str or None
        The device (index or part of its name, as ``sounddevice`` takes it); None: the default
        input.
    sample_rate : int or None
        Rate to open the device at; None: the model's rate when the device takes it
        (``preferred_rate``), else the device's default rate (the scorer resamples).
    preferred_rate : int or None
        The model's rate.
    blocksize : int
        Frames per callback; 0 lets PortAudio choose (lowest latency).
    stream_factory : callable or None
        Builds the input stream (``sounddevice.InputStream`` by default); tests pass a fake
        one that calls the callback as a device would.

    Examples
    --------
    >>> src = MicrophoneSource(preferred_rate=22050)      # doctest: +SKIP
    """

    live = True

    def __init__(self, *, device=None, sample_rate=None, preferred_rate=None, blocksize=0,
                 stream_factory=None):
        self.device = device
        self.blocksize = int(blocksize)
        self.device_overflows = 0
        self._stream = None
        self._ring = None
        if stream_factory is None:
            sd = _sounddevice()
            stream_factory = sd.InputStream
            if not input_devices():
                raise ParameterError("no microphone: PortAudio sees no input device (earmark "
                                     "stream --input - reads a pipe, e.g. from arecord)")
            sample_rate = sample_rate or self._choose_rate(sd, device, preferred_rate)
        self._factory = stream_factory
        self.sample_rate = int(sample_rate or preferred_rate or 16000)
        self.name = f"microphone{'' if device is None else ' ' + str(device)}"

    @staticmethod
    def _choose_rate(sd, device, preferred):
        if preferred:
            try:
                sd.check_input_settings(device=device, channels=1, dtype="float32",
                                        samplerate=preferred)
                return int(preferred)
            except Exception:  # the device does not take it: its own rate, resampled
                pass
        try:
            return int(sd.query_devices(device, "input")["default_samplerate"])
        except Exception as exc:
            raise ParameterError(f"microphone {device!r}: {exc}") from None

    def _callback(self, indata, frames, time_info, status):
        # PortAudio's thread: copy and return, nothing else
        if status:
            self.device_overflows += 1
        self._ring.write(indata[:, 0])

    def start(self, ring):
        self._ring = ring
        try:
            self._stream = self._factory(samplerate=self.sample_rate, channels=1,
                                         dtype="float32", blocksize=self.blocksize,
                                         device=self.device, callback=self._callback)
            self._stream.start()
        except ParameterError:
            raise
        except Exception as exc:  # PortAudioError and friends
            raise ParameterError(f"cannot open {self.name} at {self.sample_rate} Hz: "
                                 f"{exc}") from None

    def stop(self):
        if self._stream is not None:
            try:
                self._stream.stop()
                self._stream.close()
            finally:
                self._stream = None
        if self._ring is not None:
            self._ring.close()


# --------------------------------------------------------------------------------------------
# a reader thread, shared by pipes and files


class _ReaderSource(Source):
    """A source whose samples a thread produces (``_produce`` yields float32 chunks)."""

    def __init__(self):
        self._thread = None
        self._stopping = threading.Event()
        self._ring = None

    def start(self, ring):
        self._ring = ring
        self._thread = threading.Thread(target=self._run, name=f"earmark-{self.name}",
                                        daemon=True)
        self._thread.start()

    def _run(self):
        error = None
        try:
            for chunk in self._produce():
                if self._stopping.is_set():
                    break
                self._ring.write(chunk, block=not self.live)
        except BaseException as exc:  # reported by the reader of the ring
            error = exc
        self._ring.close(error)

    def stop(self):
        self._stopping.set()
        if self._ring is not None:
            self._ring.close(self._ring.error)


# --------------------------------------------------------------------------------------------
# a pipe


def _read_exact(f, n):
    """``n`` bytes, fewer only at the end of the stream."""
    parts, got = [], 0
    while got < n:
        b = f.read(n - got)
        if not b:
            break
        parts.append(b)
        got += len(b)
    return b"".join(parts)


_WAV_FLOAT, _WAV_PCM, _WAV_EXTENSIBLE = 3, 1, 0xFFFE


def read_wav_header(f, name="<stdin>"):
    """Read a RIFF/WAVE header up to the start of its data from a stream that cannot seek.

    Returns ``(sample_rate, channels, dtype, scale)``: the samples are ``dtype`` (little
    endian) times ``scale``. Raises :class:`AudioError` for anything but PCM 16/24/32-bit
    or float 32/64-bit.
    """
    riff = _read_exact(f, 12)
    if len(riff) < 12 or riff[:4] not in (b"RIFF", b"RF64") or riff[8:12] != b"WAVE":
        raise AudioError(name, "not a WAV stream (no RIFF/WAVE header); for raw samples give "
                         "--format s16le, s32le or f32le and --rate")
    fmt = None
    while True:
        head = _read_exact(f, 8)
        if len(head) < 8:
            raise AudioError(name, "WAV stream ends before its data chunk")
        cid, size = head[:4], struct.unpack("<I", head[4:])[0]
        if cid == b"data":
            break
        body = _read_exact(f, size + (size & 1))
        if cid == b"fmt ":
            if len(body) < 16:
                raise AudioError(name, "WAV fmt chunk too short")
            tag, ch, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
            if tag == _WAV_EXTENSIBLE and len(body) >= 26:
                tag = struct.unpack("<H", body[24:26])[0]
            fmt = (tag, ch, rate, bits)
    if fmt is None:
        raise AudioError(name, "WAV stream has no fmt chunk before its data")
    tag, ch, rate, bits = fmt
    if ch < 1 or rate < 1:
        raise AudioError(name, f"WAV header says {ch} channels at {rate} Hz")
    if tag == _WAV_PCM and bits in (16, 24, 32):
        dtype = {16: "<i2", 24: "i24", 32: "<i4"}[bits]
        return rate, ch, dtype, 1.0 / 2 ** (bits - 1)
    if tag == _WAV_FLOAT and bits in (32, 64):
        return rate, ch, ("<f4" if bits == 32 else "<f8"), 1.0
    raise AudioError(name, f"WAV sample format {tag} with {bits} bits is not supported on a "
                     "pipe (16/24/32-bit PCM or 32/64-bit float)")


class PipeSource(_ReaderSource):
    """Raw PCM or a WAV stream from a binary file object (stdin by default).

    Parameters
    ----------
    stream : binary file object or None
        Where to read; None: ``sys.stdin.buffer``.
    format : {'s16le', 's32le', 'f32le', 'wav', None}
        Raw little-endian samples, or WAV (its header gives rate and channels). None: WAV when
        the stream starts with a RIFF header, else s16le.
    sample_rate : int or None
        Rate of raw samples (required for them); for WAV, when given, it must match the header.
    channels : int
        Interleaved channels of raw samples (mixed to mono).
    live : bool
        True for a live capture (arecord, ffmpeg from a device): the reader never waits and a
        slow scorer skips hops. False (default): the reader waits for the scorer when the ring
        is full, so every hop is scored (a file piped through).

    Examples
    --------
    >>> import io
    >>> pcm = (np.ones(800) * 16384).astype("<i2").tobytes()
    >>> src = PipeSource(io.BytesIO(pcm), format="s16le", sample_rate=8000)
    >>> src.sample_rate, next(src._produce())[:2].tolist()
    (8000, [0.5, 0.5])
    """

    name = "stdin"

    def __init__(self, stream=None, *, format=None, sample_rate=None, channels=1, live=False):
        super().__init__()
        o = "PipeSource"
        if format is not None:
            check_choice(format, "format", o, PIPE_FORMATS)
        check_number(channels, "channels", o, low=1, high=64, closed="both", integer=True)
        if sample_rate is not None:
            check_number(sample_rate, "sample_rate", o, low=1000, high=768000, closed="both",
                         integer=True)
        if format not in (None, "wav") and sample_rate is None:
            raise ParameterError(f"raw {format} samples on a pipe carry no rate: give --rate "
                                 "(e.g. --rate 16000)")
        self._stream = stream if stream is not None else _stdin()
        self.live = bool(live)
        self.channels = int(channels)
        if format is None:
            format = "wav" if self._peek(4) in (b"RIFF", b"RF64") else "s16le"
        self.format = format
        if format == "wav":
            rate, self.channels, self._dtype, self._scale = read_wav_header(self._stream,
                                                                            self.name)
            if sample_rate is not None and sample_rate != rate:
                raise AudioError(self.name, f"--rate {sample_rate} but the WAV header says "
                                 f"{rate} Hz (leave --rate out for WAV)")
            sample_rate = rate
        else:
            if sample_rate is None:
                raise ParameterError(f"raw {format} samples on a pipe carry no rate: give "
                                     "--rate (e.g. --rate 16000)")
            self._dtype, self._scale = _RAW_DTYPES[format]
        self.sample_rate = int(sample_rate)
        self._width = 3 if self._dtype == "i24" else np.dtype(self._dtype).itemsize

    def _peek(self, n):
        peek = getattr(self._stream, "peek", None)
        if peek is not None:
            try:
                return peek(n)[:n]
            except OSError:
                return b""
        # a stream that cannot peek: read and keep the bytes for the first chunk
        head = _read_exact(self._stream, n)
        self._stream = _Prepended(head, self._stream)
        return head

    def _decode(self, raw, out, scratch):
        """Decode whole frames of ``raw`` bytes into ``out`` (mono float32); returns frames."""
        ch = self.channels
        n = len(raw) // (self._width * ch)
        if self._dtype == "i24":
            b = np.frombuffer(raw, np.uint8, n * ch * 3).reshape(-1, 3).astype(np.int32)
            ints = (b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)) << 8 >> 8
            samples = ints
        else:
            samples = np.frombuffer(raw, self._dtype, n * ch)
        if ch == 1:
            np.multiply(samples, self._scale, out=out[:n], casting="unsafe")
        else:
            np.multiply(samples, self._scale, out=scratch[:n * ch], casting="unsafe")
            np.mean(scratch[:n * ch].reshape(n, ch), axis=1, dtype=np.float32, out=out[:n])
        return n

    def _produce(self):
        frame_bytes = self._width * self.channels
        want = CHUNK_FRAMES * frame_bytes
        buf = bytearray(want + frame_bytes)
        view = memoryview(buf)
        out = np.zeros(CHUNK_FRAMES + 1, np.float32)
        scratch = np.zeros((CHUNK_FRAMES + 1) * self.channels, np.float32)
        read = getattr(self._stream, "readinto1", None) or self._stream.readinto
        have = 0             # bytes in buf (a partial frame is kept for the next read)
        while True:
            try:
                got = read(view[have:want])
            except (OSError, ValueError) as exc:
                raise AudioError(self.name, f"cannot read: {exc}") from None
            if not got:
                break
            have += got
            n = self._decode(view[:have - have % frame_bytes], out, scratch)
            if n:
                check_samples(self.name, out[:n])
                yield out[:n]
                rest = have - n * frame_bytes
                buf[:rest] = buf[n * frame_bytes:have]
                have = rest
        if have:
            print(f"earmark: warning: {self.name}: the stream ended inside a sample frame; its "
                  f"last {have} bytes were ignored", file=sys.stderr)


def _stdin():
    # stdin through its file descriptor: a reader thread blocked in sys.stdin.buffer would
    # hold that object's lock, and the interpreter aborts at exit (after Ctrl-C) on it
    try:
        return _FdStream(sys.stdin.fileno())
    except (AttributeError, OSError, ValueError):   # replaced by a file-like object
        buffer = getattr(sys.stdin, "buffer", None)
        if buffer is None:
            raise ParameterError("stdin cannot be read here (it is not a file)") from None
        return buffer


class _FdStream:
    """Reads of a file descriptor, without the locks of Python's buffered files."""

    def __init__(self, fd):
        self.fd = fd

    def read(self, n=-1):
        return os.read(self.fd, n if n >= 0 else 1 << 20)

    def readinto(self, b):
        return os.readv(self.fd, [b])


class _Prepended:
    """A binary stream with some bytes put back in front (for streams that cannot peek)."""

    def __init__(self, head, stream):
        self._head, self._stream = bytes(head), stream

    def read(self, n=-1):
        if self._head:
            b, self._head = self._head[:n], self._head[n:]
            return b
        return self._stream.read(n)

    def readinto(self, b):
        if self._head:
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        return self._stream.readinto(b)


# --------------------------------------------------------------------------------------------
# a file


class FileSource(_ReaderSource):
    """An audio file, read in blocks, as fast as the scorer takes it or paced in real time.

    Parameters
    ----------
    path : str or path-like
    realtime : bool
        Deliver the samples as a sound card would, ``CHUNK_FRAMES`` at a time when their time
        has come (the latency benchmark's source); the source is then live. False: as fast as
        the scorer takes them, every hop scored.
    speed : float
        With ``realtime``, how many seconds of audio per second of wall time.

    Examples
    --------
    >>> src = FileSource("day.wav", realtime=True)     # doctest: +SKIP
    """

    def __init__(self, path, *, realtime=False, speed=1.0):
        super().__init__()
        check_number(speed, "speed", "FileSource", low=0)
        self.path = os.fspath(path)
        meta = info(self.path)
        self.sample_rate = meta.sample_rate
        self.duration_s = meta.duration_s
        self.live = bool(realtime)
        self.speed = float(speed)
        self.name = os.path.basename(self.path)

    def _produce(self):
        chunk = CHUNK_FRAMES if self.live else 1 << 14
        t0 = time.perf_counter()
        sent = 0
        for block in iter_blocks(self.path, sample_rate=None, block_s=5.0):
            for i in range(0, len(block), chunk):
                piece = block[i:i + chunk]
                if self.live:
                    due = t0 + (sent + len(piece)) / (self.sample_rate * self.speed)
                    wait = due - time.perf_counter()
                    if wait > 0:
                        if self._stopping.wait(wait):
                            return
                sent += len(piece)
                yield piece


def open_source(input=None, *, sample_rate=None, format=None, channels=1, realtime=False,
                live=False, device=None, preferred_rate=None, stdin=None):
    """The source ``earmark stream --input`` names: None (or ``'mic'``): the default
    microphone (``device`` picks another); ``'-'``: stdin (raw PCM at ``sample_rate``, or WAV);
    anything else: an audio file (paced in real time with ``realtime``)."""
    if input is None or input == "mic":
        return MicrophoneSource(device=device, sample_rate=sample_rate,
                                preferred_rate=preferred_rate)
    if input == "-":
        if realtime:
            raise ParameterError("--realtime paces a file; a pipe comes at its own pace (use "
                                 "--live for a live capture)")
        return PipeSource(stdin, format=format, sample_rate=sample_rate, channels=channels,
                          live=live)
    if format not in (None, "wav") or sample_rate is not None:
        raise ParameterError(f"{input}: --format and --rate describe raw samples on stdin; an "
                             "audio file carries its own")
    return FileSource(input, realtime=realtime)
