"""Receiving audio over HTTP: a multipart upload or a raw s16le PCM body, streamed into a private
temporary file that is always removed, then its header checked against the limits.

Nothing from the request names a path: the file's name in the folder is random, and only the
upload's ending (when it is a known audio ending) is kept so libsndfile sees what the client
sent. The upload's own file name is used in messages only, cleaned.
"""

import contextlib
import os
import re
import tempfile
import wave

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from ..audio import AUDIO_EXTENSIONS, info
from ..errors import AudioError

__all__ = ["UploadError", "Received", "receive", "RAW_TYPES", "display_name"]

#: Content types of a raw PCM body (signed 16-bit little-endian, interleaved channels).
RAW_TYPES = ("application/octet-stream", "audio/pcm", "audio/x-raw")
#: Bytes a multipart body may hold beyond the file itself (boundaries, headers, other fields).
_MULTIPART_SLACK = 64 * 1024


class UploadError(Exception):
    """A request whose audio cannot be used: ``status`` (4xx) and a message for the client."""

    def __init__(self, status, message, headers=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def display_name(filename, default="upload"):
    """A file name fit to show in a message: the last path part, harmless characters only.

    Examples
    --------
    >>> display_name("../../etc/pass wd.wav")
    'pass wd.wav'
    >>> display_name(None)
    'upload'
    """
    if not filename:
        return default
    base = re.split(r"[/\\]", str(filename))[-1]
    base = re.sub(r"[^A-Za-z0-9._ ()+-]", "_", base).strip(" .")[:100]
    return base or default


def _ending(name):
    ext = os.path.splitext(name)[1].lower()
    return ext if ext in AUDIO_EXTENSIONS else ".audio"


class Received:
    """An upload in the private folder: ``path`` (random), ``name`` (for messages), ``info``
    (its header, an :class:`earmark.audio.AudioInfo`), ``n_bytes``."""

    def __init__(self, path, name, n_bytes):
        self.path, self.name, self.n_bytes = path, name, n_bytes
        self.info = None

    def message(self, text):
        """``text`` with the private path replaced by the upload's name."""
        return str(text).replace(self.path, self.name)


def _too_large(limit):
    return UploadError(413, f"upload too large: the limit is {limit / 2 ** 20:g} MB "
                            "(--max-upload-mb)")


async def _multipart(request, fd, boundary, limit, state):
    """Stream the part named 'file' of a multipart body into ``fd``."""
    headers, part = {}, {"field": b"", "value": b""}
    current = {"target": False}
    found = {"file": False, "name": None, "end": False, "bytes": 0}

    def on_header_field(data, start, end):
        part["field"] += data[start:end]

    def on_header_value(data, start, end):
        part["value"] += data[start:end]

    def on_header_end():
        headers[part["field"].decode("latin-1").strip().lower()] = part["value"]
        part["field"], part["value"] = b"", b""

    def on_part_begin():
        headers.clear()
        current["target"] = False

    def on_headers_finished():
        _, params = parse_options_header(headers.get("content-disposition", b""))
        if params.get(b"name") == b"file" and not found["file"]:
            found["file"] = True
            current["target"] = True
            raw = params.get(b"filename")
            found["name"] = raw.decode("utf-8", "replace") if raw is not None else None

    def on_part_data(data, start, end):
        if current["target"]:
            found["bytes"] += end - start
            if found["bytes"] > limit:
                raise _too_large(limit)
            os.write(fd, data[start:end])

    def on_end():
        found["end"] = True

    parser = MultipartParser(boundary, {
        "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_header_end": on_header_end, "on_part_begin": on_part_begin,
        "on_headers_finished": on_headers_finished, "on_part_data": on_part_data,
        "on_end": on_end})
    total = 0
    try:
        async for chunk in request.stream():
            total += len(chunk)
            if total > limit + _MULTIPART_SLACK:
                raise _too_large(limit)
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        raise UploadError(400, f"malformed multipart body ({exc})") from None
    if not found["file"]:
        raise UploadError(400, "no file in the upload: send the audio as the multipart field "
                               "'file' (curl -F file=@clip.wav ...)")
    if not found["end"]:
        raise UploadError(400, "the multipart body ended early (truncated upload)")
    state["name"] = display_name(found["name"])
    return found["bytes"]


async def _raw(request, path, rate, channels, limits):
    """Stream a raw s16le body into a WAV file at ``path``."""
    limit = limits.max_upload_bytes
    if rate is None:
        raise UploadError(422, "a raw PCM body needs the query parameter 'rate' (Hz), e.g. "
                               "?rate=16000 (signed 16-bit little-endian samples)")
    if not (limits.min_sample_rate <= rate <= limits.max_sample_rate):
        raise UploadError(422, f"rate={rate}: the sample rate must be in "
                               f"[{limits.min_sample_rate}, {limits.max_sample_rate}] Hz")
    if not (1 <= channels <= limits.max_channels):
        raise UploadError(422, f"channels={channels}: must be in [1, {limits.max_channels}]")
    total = 0
    with wave.open(path, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        async for chunk in request.stream():
            total += len(chunk)
            if total > limit:
                raise _too_large(limit)
            # wave patches the header's sizes on close; frames need not align per chunk
            w.writeframesraw(chunk)
    if total % (2 * channels):
        raise UploadError(422, f"a raw PCM body of {total} bytes is not a whole number of "
                               f"frames of {channels} channel(s) of 16-bit samples")
    return total


def _check_header(received, limits):
    """The upload's header against the limits, before anything is decoded."""
    try:
        meta = info(received.path)
    except AudioError as exc:
        raise UploadError(422, received.message(exc)) from None
    name = received.name
    if not (limits.min_sample_rate <= meta.sample_rate <= limits.max_sample_rate):
        raise UploadError(422, f"{name}: sample rate {meta.sample_rate} Hz is outside the "
                               f"[{limits.min_sample_rate}, {limits.max_sample_rate}] Hz the "
                               "service accepts")
    if not (1 <= meta.channels <= limits.max_channels):
        raise UploadError(422, f"{name}: {meta.channels} channels; the service accepts 1 to "
                               f"{limits.max_channels}")
    if meta.duration_s > limits.max_duration_s:
        raise UploadError(413, f"{name}: audio too long: its header says "
                               f"{meta.duration_s:.1f} s; the limit is "
                               f"{limits.max_duration_s:g} s (--max-duration-s)")
    received.info = meta
    return received


@contextlib.asynccontextmanager
async def receive(request, *, folder, limits, rate=None, channels=1):
    """Receive the request's audio into ``folder``; yields a checked :class:`Received` and
    removes the file whatever happens.

    Raises
    ------
    UploadError
        413 (too large, too long), 415 (content type), 400 (malformed), 422 (not usable audio).
    """
    declared = request.headers.get("content-length")
    limit = limits.max_upload_bytes
    if declared is not None:
        try:
            if int(declared) > limit + _MULTIPART_SLACK:
                raise _too_large(limit)
        except ValueError:
            raise UploadError(400, "invalid Content-Length header") from None
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    ctype = ctype.decode("latin-1").lower()
    if ctype == "multipart/form-data":
        boundary = params.get(b"boundary")
        if not boundary:
            raise UploadError(400, "multipart/form-data without a boundary")
    elif ctype not in RAW_TYPES:
        shown = ctype[:60] or "none"
        raise UploadError(415, f"content type {shown!r} is not accepted: upload a file as "
                               "multipart/form-data (field 'file'), or send raw s16le PCM as "
                               "application/octet-stream with ?rate=HZ")
    fd, path = tempfile.mkstemp(dir=folder, suffix=".part")
    final = path
    try:
        state = {"name": "pcm"}
        if ctype == "multipart/form-data":
            try:
                n = await _multipart(request, fd, boundary, limit, state)
            finally:
                os.close(fd)
            # the upload's ending tells libsndfile what to expect (e.g. MP3 without ID3 tag)
            final = path[:-len(".part")] + _ending(state["name"])
            os.rename(path, final)
        else:
            os.close(fd)
            final = path[:-len(".part")] + ".wav"
            os.rename(path, final)
            n = await _raw(request, final, rate, channels, limits)
        received = Received(final, state["name"], n)
        if n == 0:
            raise UploadError(422, f"{received.name}: the upload is empty (0 bytes)")
        yield _check_header(received, limits)
    finally:
        for p in {path, final}:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(p)
