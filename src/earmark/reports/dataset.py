"""The dataset report: what ``earmark inspect DATA --report dataset.html`` writes.

It shows what a dataset holds before any training: class balance, durations, levels, formats,
one example per class to look at and listen to, duplicates and cross-fold leaks, silent and
clipped files, and suggestions drawn from all of that.
"""

import math
import os

import numpy as np
from tqdm.auto import tqdm

from ..errors import EarmarkError, ParameterError
from . import plots
from .html import (dataset_name, attrs, card, check_output_path, earmark_version, esc, fmt_db,
                   fmt_duration_long, fmt_int, fmt_seconds, page, table, write_atomic)
from .media import clip_and_spectrogram

__all__ = ["write_dataset_report", "pick_examples"]

# Lists of files are cut here: a report on 100,000 files must stay small and readable.
_MAX_ROWS = 200

_OWNER = "write_dataset_report"
_REQUIRED = ("root", "n_files", "n_clips", "total_duration_s", "classes", "files", "duplicates",
             "problems", "suggestions")
def pick_examples(files):
    """One example file per class: not silent, not clipped where possible, of the class's median
    duration (ties broken by path, so the choice is stable).

    Examples
    --------
    >>> files = [{"path": "/a/1.wav", "label": "a", "duration_s": 1.0, "silent": False,
    ...           "clipped": False},
    ...          {"path": "/a/2.wav", "label": "a", "duration_s": 5.0, "silent": True,
    ...           "clipped": False}]
    >>> pick_examples(files)["a"]["path"]
    '/a/1.wav'
    """
    by_class = {}
    for f in files:
        by_class.setdefault(f["label"], []).append(f)
    chosen = {}
    for label in sorted(by_class):
        group = by_class[label]
        median = float(np.median([f.get("duration_s") or 0.0 for f in group]))
        chosen[label] = min(group, key=lambda f: (bool(f.get("silent")), bool(f.get("clipped")),
                                                  abs((f.get("duration_s") or 0.0) - median),
                                                  str(f["path"])))
    return chosen


def _check_inspection(inspection):
    if not isinstance(inspection, dict):
        raise ParameterError(f"{_OWNER}: 'inspection' must be the dict `earmark inspect` "
                             f"computes. Got {type(inspection).__name__} instead.")
    missing = [k for k in _REQUIRED if k not in inspection]
    if missing:
        raise ParameterError(f"{_OWNER}: the inspection lacks {', '.join(missing)}; expected "
                             "the dict `earmark inspect` computes.")


def _rel(path, root):
    path = str(path)
    try:
        rel = os.path.relpath(path, root)
    except ValueError:  # another drive on Windows
        return path
    return path if rel.startswith("..") else rel


def _num_td(text, **data):
    return f'<td class="num"{attrs(**data)}>{text}</td>'


def _finite(values):
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def _cards(ins):
    files = ins["files"]
    n_leaks = sum(1 for d in ins["duplicates"] if d.get("leak"))
    n_silent = sum(1 for f in files if f.get("silent"))
    n_clipped = sum(1 for f in files if f.get("clipped"))
    n_problems = len(ins["problems"])
    out = [
        card("files", fmt_int(ins["n_files"]), data_stat="n_files", data_value=ins["n_files"]),
        card("clips", fmt_int(ins["n_clips"]), sub=f"{len(ins['classes'])} classes",
             data_stat="n_clips", data_value=ins["n_clips"]),
        card("total duration", esc(fmt_duration_long(ins["total_duration_s"])),
             sub=f'{fmt_seconds(ins["total_duration_s"])} s', data_stat="total_duration_s",
             data_value=repr(float(ins["total_duration_s"]))),
        card("classes", fmt_int(len(ins["classes"])), data_stat="n_classes",
             data_value=len(ins["classes"])),
        card("problems", fmt_int(n_problems), tone="bad" if n_problems else "good",
             data_stat="n_problems", data_value=n_problems),
        card("duplicate groups", fmt_int(len(ins["duplicates"])),
             sub=f'<span{attrs(data_stat="n_leaks", data_value=n_leaks)}>{n_leaks}</span> across '
                 "folds", tone="bad" if n_leaks else ("warn" if ins["duplicates"] else "good"),
             data_stat="n_duplicates", data_value=len(ins["duplicates"])),
        card("silent / clipped", f'<span{attrs(data_stat="n_silent", data_value=n_silent)}>'
             f'{n_silent}</span> / <span{attrs(data_stat="n_clipped", data_value=n_clipped)}>'
             f"{n_clipped}</span>", tone="warn" if n_silent or n_clipped else "good"),
    ]
    return "".join(out)


def _advice_section(ins):
    problems = ins["problems"]
    suggestions = list(ins["suggestions"])
    parts = []
    if problems:
        shown = problems[:_MAX_ROWS]
        more = len(problems) - len(shown)
        items = "".join(f"<li data-problem>{esc(p)}</li>" for p in shown)
        more_html = f"<li>… and {more} more</li>" if more > 0 else ""
        parts.append(f'<h3>Problems ({len(problems)})</h3><ul class="notes problems">{items}'
                     f"{more_html}</ul>")
    else:
        parts.append('<p class="note">No problems found: every file could be read and every class '
                     "has enough examples.</p>")
    if suggestions:
        items = "".join(f"<li data-suggestion>{esc(s)}</li>" for s in suggestions)
        parts.append(f'<h3>Suggestions</h3><ul class="notes">{items}</ul>')
    return ("advice", "Problems and suggestions", "Fix the problems before training: they are "
            "errors, not style.", "".join(parts))


def _classes_section(ins):
    classes = ins["classes"]
    rows = []
    for label in sorted(classes):
        c = classes[label]
        rows.append([f"<td><b>{esc(label)}</b></td>",
                     _num_td(fmt_int(c["count"]), data_class=label, data_stat="count",
                             data_value=c["count"])] +
                    [_num_td(fmt_seconds(c[k]), data_class=label, data_stat=k,
                             data_value=repr(float(c[k])))
                     for k in ("duration_s_total", "duration_s_mean", "duration_s_min",
                               "duration_s_max")])
    tbl = table(["class", "clips", "total (s)", "mean (s)", "min (s)", "max (s)"], rows)
    body = (f'<div class="figs"><figure><img alt="clips per class" '
            f'src="{plots.class_balance_png({k: v["count"] for k, v in classes.items()})}">'
            f"</figure><div>{tbl}</div></div>")
    folds = ins.get("folds")
    if folds:
        fold_names = sorted(folds, key=str)
        header = ["class"] + [esc(f) for f in fold_names]
        frows = [[f"<td><b>{esc(label)}</b></td>"] +
                 [_num_td(fmt_int(folds[f].get(label, 0)), data_fold=f, data_class=label,
                          data_stat="fold_count", data_value=folds[f].get(label, 0))
                  for f in fold_names]
                 for label in sorted(classes)]
        body += ("<h3>Clips per fold</h3><p class=\"lead\">A class missing from a fold cannot be "
                 "tested there; very uneven folds make the fold scores hard to compare.</p>"
                 + table(header, frows))
    lead = ("Clips per class and their durations. Accuracy on an imbalanced set mostly reflects "
            "the large classes; balanced accuracy weighs every class the same.")
    return ("classes", "Class balance", lead, body)


def _distributions_section(ins):
    files = ins["files"]
    by_class = {}
    for f in files:
        by_class.setdefault(str(f["label"]), []).append(f)

    def groups(key):
        return {k: _finite(f.get(key) for f in v) for k, v in by_class.items()}

    figs = [
        (plots.histogram_png(groups("duration_s"), xlabel="duration (s)", title="durations",
                             log_x=True), "durations"),
        (plots.histogram_png(groups("peak_dbfs"), xlabel="peak level (dBFS)",
                             title="peak levels"), "peak levels"),
        (plots.histogram_png(groups("rms_dbfs"), xlabel="RMS level (dBFS)", title="RMS levels"),
         "RMS levels"),
    ]
    n_inf = sum(1 for f in files if f.get("rms_dbfs") is None
                or not math.isfinite(float(f["rms_dbfs"])))
    note = (f'<p class="muted">{n_inf} digitally silent files (−inf dBFS) are left out of the '
            "level histograms.</p>") if n_inf else ""
    body = '<div class="figs">' + "".join(
        f'<figure><img alt="{esc(alt)}" src="{uri}"></figure>' for uri, alt in figs) + "</div>"
    lead = ("If one class is much louder, quieter or longer than the others, a model can learn "
            "that instead of the sound itself.")
    return ("distributions", "Durations and levels", lead, body + note)


def _formats_section(ins):
    sr = ins.get("sample_rates") or {}
    ch = ins.get("channels") or {}
    t1 = table(["sample rate (Hz)", "files"],
               [[str(k), _num_td(fmt_int(v), data_stat="sample_rate", data_key=k, data_value=v)]
                for k, v in sorted(sr.items(), key=lambda kv: int(kv[0]))])
    t2 = table(["channels", "files"],
               [[str(k), _num_td(fmt_int(v), data_stat="channels", data_key=k, data_value=v)]
                for k, v in sorted(ch.items(), key=lambda kv: int(kv[0]))])
    return ("formats", "Sample rates and channels", "Mixed rates are resampled and stereo is "
            "mixed to mono before features are computed.",
            f'<div class="figs"><div>{t1}</div><div>{t2}</div></div>')


def _examples_section(ins, bar):
    chosen = pick_examples(ins["files"])
    cards = []
    for label, f in chosen.items():
        try:
            audio_uri, spec_uri, shown_s = clip_and_spectrogram(f["path"])
            media = (f'<img alt="log-mel spectrogram of {esc(label)}" src="{spec_uri}">'
                     f'<audio controls preload="metadata" src="{audio_uri}"></audio>')
            cut = " (first 4 s)" if (f.get("duration_s") or 0) > shown_s + 1e-3 else ""
            meta = f"{shown_s:.2f} s shown{cut}"
        except EarmarkError as exc:
            media = f'<p class="note">Audio not shown: {esc(exc)}</p>'
            meta = ""
        cards.append(f'<div class="example"{attrs(data_example=label)}><h3>{esc(label)}</h3>'
                     f'<div class="path" title="{esc(f["path"])}">'
                     f'{esc(_rel(f["path"], ins["root"]))}</div>{media}'
                     f'<div class="muted" style="font-size:12px">{esc(meta)}</div></div>')
        bar.update(1)
    body = f'<div class="examples">{"".join(cards)}</div>' if cards else \
        '<p class="note">No readable files.</p>'
    return ("examples", "One example per class", "A clip of typical length from each class; "
            "check that it sounds like its label.", body)


def _duplicates_section(ins):
    dups = sorted(ins["duplicates"], key=lambda d: (not d.get("leak"), str(d["paths"][0])))
    if not dups:
        return ("duplicates", "Duplicates and leaks", None,
                '<p class="note">No two files hold the same audio.</p>')
    rows = []
    for d in dups[:_MAX_ROWS]:
        paths = "<br>".join(esc(_rel(p, ins["root"])) for p in d["paths"])
        folds = ", ".join("–" if f is None else esc(f) for f in d.get("folds", []))
        badge = ('<span class="pill pill-bad">leak across folds</span>' if d.get("leak")
                 else '<span class="pill pill-warn">duplicate</span>')
        rows.append([f'<td><code>{esc(str(d["hash"])[:10])}</code></td>',
                     f"<td>{paths}</td>", f"<td>{folds}</td>",
                     f'<td{attrs(data_leak="1" if d.get("leak") else "0")}>{badge}</td>'])
    more = len(dups) - _MAX_ROWS
    tail = f'<p class="muted">… and {more} more groups.</p>' if more > 0 else ""
    lead = ("Files with identical decoded audio. A duplicate in two folds is a leak: the model is "
            "tested on a clip it trained on, and cross-validation scores come out too high.")
    return ("duplicates", "Duplicates and leaks", lead,
            table(["audio hash", "files", "folds", ""], rows, numeric_from=9) + tail)


def _levels_section(ins):
    flagged = [f for f in ins["files"] if f.get("silent") or f.get("clipped")]
    flagged.sort(key=lambda f: (not f.get("silent"), -(f.get("clipped_fraction") or 0.0),
                                str(f["path"])))
    if not flagged:
        return ("levels", "Silent and clipped files", None,
                '<p class="note">No silent or clipped files.</p>')
    rows = []
    for f in flagged[:_MAX_ROWS]:
        pills = []
        if f.get("silent"):
            pills.append('<span class="pill pill-warn">silent</span>')
        if f.get("clipped"):
            pills.append('<span class="pill pill-bad">clipped</span>')
        rows.append([f'<td title="{esc(f["path"])}">{esc(_rel(f["path"], ins["root"]))}</td>',
                     f"<td>{esc(f['label'])}</td>", f"<td>{' '.join(pills)}</td>",
                     fmt_db(f.get("peak_dbfs")), fmt_db(f.get("rms_dbfs")),
                     f"{100 * float(f.get('clipped_fraction') or 0.0):.2f}%"])
    more = len(flagged) - _MAX_ROWS
    tail = f'<p class="muted">… and {more} more files.</p>' if more > 0 else ""
    lead = ("Silent files teach the model nothing (or that silence is a class); clipped files "
            "carry distortion the model may learn as a cue.")
    return ("levels", "Silent and clipped files", lead,
            table(["file", "class", "", "peak (dBFS)", "RMS (dBFS)", "clipped samples"], rows,
                  numeric_from=3) + tail)


def write_dataset_report(inspection, path, *, progress=True):
    """Write a dataset inspection as one self-contained HTML page.

    The page shows class balance (and clips per fold), duration and level histograms, sample
    rates and channels, one example spectrogram per class with its audio, duplicates and
    cross-fold leaks, silent and clipped files, the inspection's problems and suggestions, and
    suggestions of its own (window length from the durations, class imbalance, mixed sample
    rates).

    Parameters
    ----------
    inspection : dict
        What ``earmark inspect`` computes.
    path : str or path-like
        The HTML file to write, replaced atomically.
    progress : bool
        Show a progress bar on stderr.

    Returns
    -------
    str
        ``path``.

    Raises
    ------
    ParameterError
        ``inspection`` lacks a required field, or ``path`` cannot be written.

    Examples
    --------
    >>> from earmark.reports import write_dataset_report
    >>> write_dataset_report(inspection, "dataset.html")  # doctest: +SKIP
    'dataset.html'
    """
    _check_inspection(inspection)
    path = check_output_path(path, _OWNER)
    n_examples = len({f["label"] for f in inspection["files"]})
    with tqdm(total=6 + n_examples, desc="dataset report", unit="part", disable=not progress,
              leave=False) as bar:
        sections = []
        for build in (_advice_section, _classes_section, _distributions_section,
                      _formats_section):
            sections.append(build(inspection))
            bar.update(1)
        sections.append(_examples_section(inspection, bar))
        sections.append(_duplicates_section(inspection))
        sections.append(_levels_section(inspection))
        bar.update(1)
        root = str(inspection["root"])
        name = dataset_name(root)
        html_text = page(title=f"earmark dataset — {name}",
                         subtitle_html=f"<code>{esc(root)}</code>",
                         cards_html=_cards(inspection), sections=sections,
                         footer_html=f"Written by earmark {esc(earmark_version())}.")
        write_atomic(path, [html_text])
        bar.update(1)
    return path
