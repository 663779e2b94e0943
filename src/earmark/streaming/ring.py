"""A preallocated ring buffer of samples, written by a capture thread and read by the scorer.

One writer (an audio callback or a reader thread) and one reader (the scorer). The writer only
copies into memory allocated once and then publishes how many samples it has written, so an
audio callback never allocates a buffer, takes a lock that the scorer could hold, or waits. The
reader copies the samples it wants out and then checks that the writer did not overwrite them
meanwhile (a seqlock-like check on the running count), counting an overrun when it did.

For sources that may wait (a file read as fast as possible, a pipe read without dropping),
:meth:`RingBuffer.write` can block until the reader has made room: nothing is ever lost then.
"""

import threading
import time

import numpy as np

from .._validation import check_number

__all__ = ["RingBuffer"]

#: Arrival records kept: (samples written so far, time) once per write, for latency.
_ARRIVALS = 4096


class RingBuffer:
    """A ring of ``capacity`` float32 samples with a running count of samples written.

    Parameters
    ----------
    capacity : int
        Samples held; older ones are overwritten (or, with ``write(..., block=True)``, the
        writer waits for the reader).

    Attributes
    ----------
    written : int
        Samples written since the start (sample ``i`` lives at ``data[i % capacity]`` while
        ``i >= written - capacity``).
    read_pos : int
        Samples the reader has consumed (``advance``); a blocking writer waits on it.
    closed : bool
        The writer has finished (end of file, device closed); nothing more will come.
    error : BaseException or None
        An error the writer met (a decoding error of a pipe), raised again by the reader.
    overruns : int
        Samples the reader asked for after they were overwritten (a reader too slow).

    Examples
    --------
    >>> ring = RingBuffer(8)
    >>> ring.write(np.arange(6, dtype=np.float32))
    >>> ring.write(np.arange(6, 10, dtype=np.float32))
    >>> out = np.zeros(4, np.float32)
    >>> ring.read(6, out), out.tolist()
    (True, [6.0, 7.0, 8.0, 9.0])
    >>> ring.read(0, out), ring.overruns     # samples 0-1 were overwritten
    (False, 2)
    """

    def __init__(self, capacity):
        check_number(capacity, "capacity", "RingBuffer", low=1, closed="left", integer=True)
        self.capacity = int(capacity)
        self.data = np.zeros(self.capacity, np.float32)
        self.written = 0
        self.read_pos = 0
        self.closed = False
        self.error = None
        self.overruns = 0
        # arrival times of the samples, one record per write (preallocated, wrapped)
        self._arrival_count = np.zeros(_ARRIVALS, np.int64)
        self._arrival_time = np.zeros(_ARRIVALS, np.float64)
        self._n_arrivals = 0
        self._data_ready = threading.Event()
        self._room = threading.Condition()

    # -- the writer -------------------------------------------------------------------------------
    def write(self, samples, *, block=False, now=None):
        """Copy 1-D ``samples`` in (the newest ``capacity`` of them if more).

        ``block=True`` waits until the reader has consumed enough to make room (sources that
        can wait); an audio callback writes with ``block=False`` and never waits. ``now``: the
        arrival time to record (``time.perf_counter()`` by default).
        """
        n = len(samples)
        if n == 0:
            return
        if block:
            self._wait_for_room(min(n, self.capacity))
            if n > self.capacity:       # more than a ring at once: in ring-sized pieces
                for i in range(0, n, self.capacity):
                    self.write(samples[i:i + self.capacity], block=True, now=now)
                return
        cap = self.capacity
        skipped = max(0, n - cap)       # more than the ring holds: only the newest fit
        if skipped:
            samples = samples[skipped:]
            n = cap
        start = (self.written + skipped) % cap
        first = min(n, cap - start)
        self.data[start:start + first] = samples[:first]
        if first < n:
            self.data[:n - first] = samples[first:]
        # publish after the copy: a reader that sees the new count sees the samples
        self.written += skipped + n
        k = self._n_arrivals % _ARRIVALS
        self._arrival_count[k] = self.written
        self._arrival_time[k] = time.perf_counter() if now is None else now
        self._n_arrivals += 1
        self._data_ready.set()

    def close(self, error=None):
        """The writer is done (``error``: why it stopped, raised again by the reader)."""
        self.error = error
        self.closed = True
        self._data_ready.set()

    def _wait_for_room(self, n):
        with self._room:
            while self.written + n - self.read_pos > self.capacity and not self.closed:
                self._room.wait(0.1)

    # -- the reader -------------------------------------------------------------------------------
    def wait(self, timeout):
        """Wait until something was written (or the writer closed), at most ``timeout`` s."""
        self._data_ready.wait(timeout)
        self._data_ready.clear()

    def read(self, start, out):
        """Copy samples ``start .. start + len(out)`` into ``out``.

        Returns False (and counts an overrun of the samples lost) when some were overwritten
        before or while they were copied; the caller skips ahead. The samples must have been
        written (``start + len(out) <= written``).
        """
        n = len(out)
        end = start + n
        if end > self.written:
            raise ValueError(f"RingBuffer.read: samples up to {end} asked for, {self.written} "
                             "written")
        cap = self.capacity
        if self.written - start > cap:
            self.overruns += self.written - cap - start
            return False
        a = start % cap
        first = min(n, cap - a)
        out[:first] = self.data[a:a + first]
        if first < n:
            out[first:] = self.data[:n - first]
        # the writer may have wrapped over what was copied while copying: check again
        lost = self.written - cap - start
        if lost > 0:
            self.overruns += lost
            return False
        return True

    def advance(self, position):
        """The reader is done with the samples before ``position``: a blocking writer may
        reuse their room."""
        if position > self.read_pos:
            self.read_pos = position
            with self._room:
                self._room.notify_all()

    def arrival_time(self, count):
        """When sample ``count - 1`` was written (the time of the write that brought the
        running count to at least ``count``); None when the record was overwritten."""
        n = self._n_arrivals
        lo = max(0, n - _ARRIVALS)
        # records are in writing order, their counts increasing: binary search over them
        hi = n
        while lo < hi:
            mid = (lo + hi) // 2
            if self._arrival_count[mid % _ARRIVALS] >= count:
                hi = mid
            else:
                lo = mid + 1
        if lo >= n or lo < n - _ARRIVALS:
            return None
        return float(self._arrival_time[lo % _ARRIVALS])
