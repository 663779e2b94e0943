"""Where a stream's records go: JSON lines for programs (one object per line, flushed at once).

Records are dicts with a ``type``: ``hop`` (one per scored window: time_s, start_s, end_s,
scores, the decision, dropped, latency_ms), ``event`` (onset_s, offset_s, label, score; written
when the event is final) and ``end`` (the summary, last).
"""

import json
import math

__all__ = ["JsonLinesSink"]


def _plain(o):
    if hasattr(o, "item"):             # NumPy scalars
        return o.item()
    if isinstance(o, (set, tuple)):
        return list(o)
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")


def _finite(record):
    # JSON has no NaN or infinity; a missing value is null
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in record.items()}


class JsonLinesSink:
    """Write each record as one JSON line to a text stream, flushed at once, so a program
    reading the pipe (``jq``, a dashboard) sees every hop as it happens.

    Parameters
    ----------
    stream : text file object
        ``sys.stdout`` or an open file.
    hops : bool
        Write hop records (False: events and the summary only).
    close_stream : bool
        Close ``stream`` in :meth:`close` (a file the sink opened).

    Examples
    --------
    >>> import io
    >>> buf = io.StringIO()
    >>> JsonLinesSink(buf).write({"type": "event", "onset_s": 2.0, "offset_s": 2.5,
    ...                           "label": "tone", "score": 0.93})
    >>> buf.getvalue()
    '{"type": "event", "onset_s": 2.0, "offset_s": 2.5, "label": "tone", "score": 0.93}\\n'
    """

    def __init__(self, stream, *, hops=True, close_stream=False):
        self.stream = stream
        self.hops = hops
        self.close_stream = close_stream
        self._broken = False

    def write(self, record):
        if self._broken or (record.get("type") == "hop" and not self.hops):
            return
        try:
            self.stream.write(json.dumps(_finite(record), default=_plain) + "\n")
            self.stream.flush()
        except BrokenPipeError:
            # the reader went away (``| head``): stop writing, let the stream end quietly
            self._broken = True

    def close(self):
        if self.close_stream and not self._broken:
            try:
                self.stream.close()
            except BrokenPipeError:
                pass
