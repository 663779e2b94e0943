"""Request counters and a latency histogram, written in Prometheus' text format."""

import threading
from collections import defaultdict

__all__ = ["Metrics", "LATENCY_BUCKETS_S"]

#: Upper bounds (s) of the latency histogram's buckets.
LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def _label(value):
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    """What ``/metrics`` shows: requests and errors by model and status, latency by model,
    seconds of audio scored, requests refused because the queue was full, the queue depth.

    Examples
    --------
    >>> m = Metrics()
    >>> m.observe(model="drums", status=200, latency_s=0.02, audio_s=2.0)
    >>> "earmark_requests_total" in m.render(in_flight=0, capacity=4)
    True
    """

    def __init__(self):
        self._lock = threading.Lock()
        self.requests = defaultdict(int)          # (model, status) -> count
        self.audio_s = defaultdict(float)         # model -> seconds
        self.buckets = defaultdict(lambda: [0] * len(LATENCY_BUCKETS_S))
        self.latency_sum = defaultdict(float)
        self.latency_count = defaultdict(int)

    def observe(self, *, model, status, latency_s, audio_s=None):
        model = model or "-"
        with self._lock:
            self.requests[(model, int(status))] += 1
            if audio_s:
                self.audio_s[model] += float(audio_s)
            counts = self.buckets[model]
            for i, bound in enumerate(LATENCY_BUCKETS_S):
                if latency_s <= bound:
                    counts[i] += 1
            self.latency_sum[model] += latency_s
            self.latency_count[model] += 1

    def render(self, *, in_flight, capacity, rejected=0):
        with self._lock:
            out = ["# HELP earmark_requests_total HTTP requests answered, by model and status.",
                   "# TYPE earmark_requests_total counter"]
            for (model, status), n in sorted(self.requests.items()):
                out.append(f'earmark_requests_total{{model="{_label(model)}",'
                           f'status="{status}"}} {n}')
            out += ["# HELP earmark_request_errors_total Requests answered with status >= 400.",
                    "# TYPE earmark_request_errors_total counter"]
            for (model, status), n in sorted(self.requests.items()):
                if status >= 400:
                    out.append(f'earmark_request_errors_total{{model="{_label(model)}",'
                               f'status="{status}"}} {n}')
            out += ["# HELP earmark_request_duration_seconds Request latency.",
                    "# TYPE earmark_request_duration_seconds histogram"]
            for model in sorted(self.buckets):
                m = _label(model)
                for bound, n in zip(LATENCY_BUCKETS_S, self.buckets[model]):
                    out.append(f'earmark_request_duration_seconds_bucket{{model="{m}",'
                               f'le="{bound:g}"}} {n}')
                out.append(f'earmark_request_duration_seconds_bucket{{model="{m}",le="+Inf"}} '
                           f'{self.latency_count[model]}')
                out.append(f'earmark_request_duration_seconds_sum{{model="{m}"}} '
                           f'{self.latency_sum[model]:.6f}')
                out.append(f'earmark_request_duration_seconds_count{{model="{m}"}} '
                           f'{self.latency_count[model]}')
            out += ["# HELP earmark_audio_seconds_total Seconds of audio scored.",
                    "# TYPE earmark_audio_seconds_total counter"]
            for model, s in sorted(self.audio_s.items()):
                out.append(f'earmark_audio_seconds_total{{model="{_label(model)}"}} {s:.3f}')
        out += ["# HELP earmark_queue_rejected_total Requests refused with 503 (queue full).",
                "# TYPE earmark_queue_rejected_total counter",
                f"earmark_queue_rejected_total {rejected}",
                "# HELP earmark_in_flight Requests being received, queued or scored.",
                "# TYPE earmark_in_flight gauge", f"earmark_in_flight {in_flight}",
                "# HELP earmark_capacity Requests that may be in flight at once.",
                "# TYPE earmark_capacity gauge", f"earmark_capacity {capacity}"]
        return "\n".join(out) + "\n"
