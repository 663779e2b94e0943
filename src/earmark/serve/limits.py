"""What one request may cost, and how many may be in flight at once.

A request is admitted (or refused with 503) before its body is read, so a burst of uploads can
hold at most ``workers + queue`` bodies, each at most ``max_upload_bytes``; scoring runs on at
most ``workers`` threads at a time, off the event loop.
"""

from dataclasses import dataclass

import anyio

from .._validation import check_number

__all__ = ["ServeLimits", "Admission", "QueueFull"]


@dataclass(frozen=True)
class ServeLimits:
    """The service's bounds; every one is checked on each request.

    Parameters
    ----------
    max_upload_mb : float
        Largest upload (the file part, or a raw PCM body), counted while the body streams in,
        whatever ``Content-Length`` says.
    max_duration_s : float
        Longest audio, read from the file's header before anything is decoded.
    min_sample_rate, max_sample_rate : int
        Sample rates (Hz) accepted from a header or a raw body's ``rate``.
    max_channels : int
        Channels accepted from a header or a raw body's ``channels``.
    workers : int
        Requests scored at the same time (threads).
    queue : int
        Requests that may wait for a worker; one more is answered 503 with Retry-After.
    spectrogram_max_s : float
        Longest audio whose spectrogram the page may ask for (it is decoded whole).

    Examples
    --------
    >>> ServeLimits(max_upload_mb=5, workers=1).max_upload_bytes
    5242880
    """

    max_upload_mb: float = 50.0
    max_duration_s: float = 600.0
    min_sample_rate: int = 1000
    max_sample_rate: int = 384000
    max_channels: int = 16
    workers: int = 2
    queue: int = 32
    spectrogram_max_s: float = 120.0

    def __post_init__(self):
        owner = "ServeLimits"
        check_number(self.max_upload_mb, "max_upload_mb", owner, low=0, high=2048,
                     closed="right")
        check_number(self.max_duration_s, "max_duration_s", owner, low=0, high=86400,
                     closed="right")
        check_number(self.min_sample_rate, "min_sample_rate", owner, low=1, high=10 ** 6,
                     closed="both", integer=True)
        check_number(self.max_sample_rate, "max_sample_rate", owner, low=self.min_sample_rate,
                     high=10 ** 6, closed="both", integer=True)
        check_number(self.max_channels, "max_channels", owner, low=1, high=256, closed="both",
                     integer=True)
        check_number(self.workers, "workers", owner, low=1, high=256, closed="both",
                     integer=True)
        check_number(self.queue, "queue", owner, low=0, high=10 ** 5, closed="both",
                     integer=True)
        check_number(self.spectrogram_max_s, "spectrogram_max_s", owner, low=0, high=3600,
                     closed="both")

    @property
    def max_upload_bytes(self):
        return int(self.max_upload_mb * 2 ** 20)

    def to_dict(self):
        return {"max_upload_mb": self.max_upload_mb, "max_duration_s": self.max_duration_s,
                "min_sample_rate": self.min_sample_rate,
                "max_sample_rate": self.max_sample_rate, "max_channels": self.max_channels,
                "workers": self.workers, "queue": self.queue,
                "spectrogram_max_s": self.spectrogram_max_s}


class QueueFull(Exception):
    """More requests than ``workers + queue`` are in flight."""


class Admission:
    """Counts the requests in flight (on the event loop: no lock needed) and runs their scoring
    on at most ``workers`` threads."""

    def __init__(self, limits):
        self.capacity = limits.workers + limits.queue
        self.in_flight = 0
        self.rejected = 0
        self._limiter = None
        self._workers = limits.workers

    def __enter__(self):
        if self.in_flight >= self.capacity:
            self.rejected += 1
            raise QueueFull
        self.in_flight += 1
        return self

    def __exit__(self, *exc):
        self.in_flight -= 1
        return False

    async def run(self, fn, *args):
        """``fn(*args)`` on a worker thread; waits (in the queue) while all workers are busy."""
        if self._limiter is None:       # made on the running loop
            self._limiter = anyio.CapacityLimiter(self._workers)
        return await anyio.to_thread.run_sync(fn, *args, limiter=self._limiter)
