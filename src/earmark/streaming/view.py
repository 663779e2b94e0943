"""The terminal view of a stream: live bars on a terminal, plain lines anywhere else.

On a terminal (``isatty``) the view redraws one block in place with ANSI escape codes, at most
``fps`` times a second: the stream's time, hops, dropped hops and latency, the top classes of
the current window with bars, and the last events. Elsewhere (a file, a pipe, a CI log) it
prints one plain line per hop and per event. No dependency beyond the standard library.
"""

import shutil
import time

__all__ = ["TerminalView", "PlainView"]

_BAR = "█"
_PARTS = " ▏▎▍▌▋▊▉"


def _bar(value, width):
    v = max(0.0, min(1.0, float(value))) * width
    full = int(v)
    part = _PARTS[int((v - full) * 8)] if full < width else ""
    return (_BAR * full + part).ljust(width)


def _decision(rec):
    if "label" in rec:
        return rec["label"]
    if "labels" in rec:
        return ", ".join(rec["labels"]) or "-"
    if "anomalous" in rec:
        return "ANOMALY" if rec["anomalous"] else "normal"
    return ", ".join(rec.get("active", [])) or "-"


def _shown_scores(rec):
    return rec.get("smoothed") or rec.get("scores") or {}


def _event_line(rec):
    return (f"event {rec['onset_s']:8.2f} - {rec['offset_s']:8.2f} s  {rec['label']}  "
            f"score {rec['score']:.2f}")


def _end_line(rec):
    lat = rec.get("latency_ms") or {}
    p50, p95 = lat.get("p50"), lat.get("p95")
    latency = f"; latency p50 {p50:.1f} ms, p95 {p95:.1f} ms" if p50 is not None else ""
    cpu = f"; CPU {rec['cpu_percent']:.1f} % of a core" if rec.get("cpu_percent") else ""
    return (f"{'interrupted' if rec.get('interrupted') else 'end'}: {rec['duration_s']:.2f} s "
            f"of {rec['source']}, {rec['hops']} hops, {rec['dropped']} dropped"
            f"{latency}{cpu}")


class PlainView:
    """One line per hop (time, decision, top scores) and per event, for logs and pipes.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> PlainView(out).write({"type": "hop", "time_s": 1.25, "label": "kick",
    ...                       "scores": {"kick": 0.9, "snare": 0.1}})
    >>> out.getvalue()
    '    1.25 s  kick  kick 0.90  snare 0.10\\n'
    """

    def __init__(self, stream, *, top=3, hops=True):
        self.stream, self.top, self.hops = stream, top, hops

    def write(self, rec):
        kind = rec.get("type")
        if kind == "hop":
            if not self.hops:
                return
            scores = sorted(_shown_scores(rec).items(), key=lambda kv: -kv[1])[:self.top]
            text = "  ".join(f"{k} {v:.2f}" for k, v in scores)
            line = f"{rec['time_s']:8.2f} s  {_decision(rec)}  {text}"
        elif kind == "event":
            line = _event_line(rec)
        elif kind == "end":
            line = _end_line(rec)
        else:
            return
        try:
            self.stream.write(line + "\n")
            self.stream.flush()
        except BrokenPipeError:
            self.hops = False

    def close(self):
        pass


class TerminalView:
    """A block redrawn in place on a terminal: status, top classes with bars, recent events.

    Parameters
    ----------
    stream : text file object on a terminal
    title : str
        First line (the model and the source).
    top : int
        Classes shown with bars.
    n_events : int
        Recent events shown.
    fps : float
        Most redraws a second (hops come faster than eyes read at small hops).
    """

    def __init__(self, stream, *, title="", top=5, n_events=5, fps=10.0):
        self.stream, self.title, self.top, self.n_events = stream, title, top, n_events
        self.min_interval = 1.0 / fps
        self._last_draw = 0.0
        self._lines = 0
        self._hop = None
        self._events = []

    def write(self, rec):
        kind = rec.get("type")
        if kind == "hop":
            self._hop = rec
        elif kind == "event":
            self._events = (self._events + [rec])[-self.n_events:]
        elif kind == "end":
            self._draw(force=True)
            self._print(_end_line(rec))
            return
        self._draw(force=kind == "event")

    def _print(self, text):
        self.stream.write(text + "\n")
        self.stream.flush()

    def _draw(self, force=False):
        now = time.monotonic()
        if not force and now - self._last_draw < self.min_interval:
            return
        self._last_draw = now
        width = max(40, shutil.get_terminal_size((80, 24)).columns)
        lines = [self.title[:width]]
        rec = self._hop
        if rec is not None:
            lat = rec.get("latency_ms")
            lines.append(f"{rec['time_s']:9.2f} s   now: {_decision(rec)}   dropped "
                         f"{rec.get('dropped', 0)}" + (f"   latency {lat:.0f} ms"
                                                       if lat is not None else ""))
            scores = sorted(_shown_scores(rec).items(), key=lambda kv: -kv[1])[:self.top]
            name_w = max([len(k) for k, _ in scores] + [5])
            bar_w = max(10, min(40, width - name_w - 12))
            for k, v in scores:
                lines.append(f"  {k:<{name_w}} {_bar(v, bar_w)} {v:5.2f}")
        else:
            lines.append("  waiting for the first window...")
        lines.append("recent events:" if self._events else "recent events: none yet")
        lines += ["  " + _event_line(e) for e in reversed(self._events)]
        # move up over the previous block and clear it, then draw the new one
        clear = f"\x1b[{self._lines}F\x1b[J" if self._lines else ""
        self.stream.write(clear + "\n".join(line[:width] for line in lines) + "\n")
        self.stream.flush()
        self._lines = len(lines)

    def close(self):
        pass
