"""Where a batch job stands, read from its output folder alone (no cluster needed).

Done: the inputs of the committed part files. Failed: inputs of partitions that failed after
their retries in the last run and are not committed since. To do: the other inputs of the last
run's list. The throughput is that of the running (or last) run: hours of audio committed per
hour since it started; the time left is the audio to do at that rate.
"""

import os
import time

from ..errors import ParameterError
from .job import committed_parts, input_key, is_running, read_failed, read_inputs, read_json, \
    state_path

__all__ = ["job_status", "format_status"]


def job_status(out):
    """The state of the batch job in folder ``out``.

    Returns
    -------
    dict
        command, model, settings, running (a run holds the folder now), state of the last run,
        inputs, done, failed, todo (counts of inputs), audio_h (total, done, todo), parts,
        rows, errors, audio_h_per_h (the last run's throughput), eta_s (time left at that rate,
        None when unknown), failures (the failed partitions' errors).

    Raises
    ------
    ParameterError
        ``out`` is not an earmark batch output folder.

    Examples
    --------
    >>> s = job_status("results/")                     # doctest: +SKIP
    >>> s["done"], s["todo"], s["failed"]              # doctest: +SKIP
    (1200, 800, 0)
    """
    out = os.fspath(out)
    try:
        manifest = read_json(state_path(out, "job.json"))
    except (OSError, ValueError):
        raise ParameterError(f"{out}: not an earmark batch output folder (no readable "
                             f"{os.path.join('_earmark', 'job.json')})") from None
    inputs = read_inputs(out)
    parts = committed_parts(out)
    durations = {}
    if inputs is not None:
        durations = {input_key(r.path, r.start_s, r.end_s): float(r.duration_s)
                     for r in inputs.itertuples(index=False)}
    done, rows, errors, finished = {}, 0, 0, []
    for meta in parts.values():
        if meta.get("damaged"):
            continue
        rows += int(meta.get("rows", 0))
        errors += int(meta.get("errors", 0))
        finished.append((float(meta.get("finished", 0)), float(meta.get("audio_s", 0))))
        for item in meta["inputs"]:
            done[input_key(*item[:3])] = float(item[6])
    failures = [f for f in read_failed(out)
                if any(input_key(*k) not in done for k in f.get("inputs", []))]
    failed = {input_key(*k) for f in failures for k in f["inputs"]} - set(done)
    known = set(durations) | set(done)
    todo = known - set(done) - failed
    runs = manifest.get("runs", [])
    last = runs[-1] if runs else {}
    running = is_running(out)
    rate, eta = None, None
    # the throughput of the last run that computed something (not one with nothing to do)
    worked = [r for r in runs if r.get("submit_time")]
    start = worked[-1]["submit_time"] if worked else None
    if start:
        since = [a for t, a in finished if t >= start]
        if running and worked[-1] is last:
            end = time.time()
        else:
            end = max((t for t, _ in finished if t >= start), default=start)
        if since and end > start:
            rate = sum(since) / (end - start)               # audio s per s = audio h per h
    todo_s = sum(durations.get(k, 0.0) for k in todo | failed)
    if rate:
        eta = todo_s / rate
    state = last.get("state", "never run")
    if state == "running" and not running:
        state = "stopped (killed?)"
    return {"out": out, "command": manifest.get("command"), "model": manifest.get("model"),
            "settings": manifest.get("settings"), "running": running, "state": state,
            "inputs": len(known), "done": len(done), "failed": len(failed), "todo": len(todo),
            "audio_h": {"total": sum(durations.get(k, done.get(k, 0.0)) for k in known) / 3600,
                        "done": sum(done.values()) / 3600, "todo": todo_s / 3600},
            "parts": len(parts), "rows": rows, "errors": errors,
            "audio_h_per_h": rate, "eta_s": eta,
            "failures": [{"part": f["part"], "inputs": len(f["inputs"]), "error": f["error"]}
                         for f in failures]}


def _duration(seconds):
    if seconds is None:
        return "unknown"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


def format_status(s):
    """The text ``earmark batch status`` prints for a :func:`job_status` dict."""
    model = s["model"] or {}
    what = model.get("path") or model.get("name")
    lines = [f"{s['out']}: earmark batch {s['command']} ({what}); "
             f"{'running now' if s['running'] else 'last run ' + s['state']}",
             f"  done     {s['done']:>8} inputs  {s['audio_h']['done']:10.2f} h audio  "
             f"({s['parts']} parts, {s['rows']} rows, {s['errors']} with errors)",
             f"  failed   {s['failed']:>8} inputs  (partitions that failed after their "
             "retries; the next run tries them again)",
             f"  to do    {s['todo']:>8} inputs  {s['audio_h']['todo']:10.2f} h audio "
             "(failed included)"]
    if s["audio_h_per_h"]:
        lines.append(f"  throughput {s['audio_h_per_h']:.0f} audio-h/h"
                     + (f"; time left about {_duration(s['eta_s'])}"
                        if s["todo"] + s["failed"] else ""))
    for f in s["failures"][:10]:
        lines.append(f"  failed part {f['part']} ({f['inputs']} inputs): {f['error'][:300]}")
    return "\n".join(lines)
