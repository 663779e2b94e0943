"""The dataset report: what ``earmark inspect DATA --report dataset.html`` writes.

It shows what a dataset holds before any training: class balance, durations, levels, formats,
one example per class to look at and listen to, duplicates and cross-fold leaks, silent and
clipped files, and suggestions drawn from all of that.

A multi-label dataset (the inspection's ``multi_label`` is true: clips carry sets of tags) gets
the same page told per tag rather than per tag combination: one example per tag (and one
untagged clip) with every tag of the clip shown, durations and levels per tag, and a section on
the number of tags per clip, the untagged clips and, with annotations, the events per class.
"""

import math
import os

import numpy as np
from matplotlib.ticker import MaxNLocator
from tqdm.auto import tqdm

from ..errors import EarmarkError, ParameterError
from . import plots
from .html import (dataset_name, attrs, card, check_output_path, earmark_version, esc, fmt_db,
                   fmt_duration_long, fmt_int, fmt_seconds, page, table, write_atomic)
from .media import MAX_CLIP_S, clip_and_spectrogram

__all__ = ["write_dataset_report", "pick_examples"]

# Lists of files are cut here: a report on 100,000 files must stay small and readable.
_MAX_ROWS = 200

_OWNER = "write_dataset_report"
_REQUIRED = ("root", "n_files", "n_clips", "total_duration_s", "classes", "files", "duplicates",
             "problems", "suggestions")
#: The key of the untagged clip among a multi-label dataset's examples (the empty tag set, as the
#: dataset table's ``label`` column writes it).
UNTAGGED = ""


def _is_multi(ins):
    return bool(ins.get("multi_label"))


def _tags(f):
    """The tags of a file entry: its ``labels``, or its ``label`` split on ';' (the inspection of
    a multi-label dataset writes both; an older one only the joined ``label``)."""
    labels = f.get("labels")
    if labels is None:
        labels = str(f.get("label") or "").split(";")
    return tuple(sorted({str(t).strip() for t in labels} - {""}))


def _pick_one(group, *, extra_key=lambda f: ()):
    median = float(np.median([f.get("duration_s") or 0.0 for f in group]))
    return min(group, key=lambda f: (bool(f.get("silent")), bool(f.get("clipped")),
                                     *extra_key(f),
                                     abs((f.get("duration_s") or 0.0) - median),
                                     str(f["path"])))


def _files_by_tag(files):
    """``({tag: files carrying it}, [files with no tag])``."""
    by_tag, untagged = {}, []
    for f in files:
        tags = _tags(f)
        for t in tags:
            by_tag.setdefault(t, []).append(f)
        if not tags:
            untagged.append(f)
    return by_tag, untagged


def _pick_tag_examples(files):
    by_tag, untagged = _files_by_tag(files)
    chosen, used = {}, set()
    for tag in sorted(by_tag):
        # the tag alone where possible, else with the fewest others; a clip not already shown
        # for another tag before one that was
        f = _pick_one(by_tag[tag], extra_key=lambda f: (len(_tags(f)), str(f["path"]) in used))
        chosen[tag] = f
        used.add(str(f["path"]))
    if untagged:
        chosen[UNTAGGED] = _pick_one(untagged)
    return chosen


def pick_examples(files, *, multi_label=False):
    """One example file per class: not silent, not clipped where possible, of the class's median
    duration (ties broken by path, so the choice is stable).

    With ``multi_label``, one example per *tag* (not per tag combination): a clip carrying the
    tag, not silent and not clipped where possible, then with the fewest other tags (the tag
    alone where some clip has it alone), then one not already chosen for another tag, then of
    the median duration of the tag's clips. The tags come in sorted order, followed by one
    untagged clip under the key ``""`` when some clip has no tag. A file's tags are its
    ``labels`` (or its ``label`` split on ``;``).

    Examples
    --------
    >>> files = [{"path": "/a/1.wav", "label": "a", "duration_s": 1.0, "silent": False,
    ...           "clipped": False},
    ...          {"path": "/a/2.wav", "label": "a", "duration_s": 5.0, "silent": True,
    ...           "clipped": False}]
    >>> pick_examples(files)["a"]["path"]
    '/a/1.wav'
    >>> tagged = [{"path": "/s/1.wav", "labels": ["dog", "bell"], "duration_s": 10.0},
    ...           {"path": "/s/2.wav", "labels": ["dog"], "duration_s": 10.0},
    ...           {"path": "/s/3.wav", "labels": [], "duration_s": 10.0}]
    >>> {k: f["path"] for k, f in pick_examples(tagged, multi_label=True).items()}
    {'bell': '/s/1.wav', 'dog': '/s/2.wav', '': '/s/3.wav'}
    """
    if multi_label:
        return _pick_tag_examples(files)
    by_class = {}
    for f in files:
        by_class.setdefault(f["label"], []).append(f)
    chosen = {}
    for label in sorted(by_class):
        chosen[label] = _pick_one(by_class[label])
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
    root = str(root)
    if os.path.splitext(root)[1].lower() == ".csv":  # a manifest: paths are relative to its folder
        root = os.path.dirname(root)
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
    multi = _is_multi(ins)
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
    if multi:
        hist = _tags_per_clip(ins)
        n_clips = sum(hist.values())
        mean = sum(k * v for k, v in hist.items()) / n_clips if n_clips else 0.0
        n_untagged = _n_untagged(ins)
        out.insert(4, card(
            "tags per clip", f"{mean:.2f}",
            sub=f'<span{attrs(data_stat="n_untagged", data_value=n_untagged)}>{n_untagged}'
                "</span> untagged", tone="warn" if n_untagged and n_untagged == n_clips else None,
            data_stat="mean_tags_per_clip", data_value=repr(float(mean))))
    return "".join(out)


def _tags_per_clip(ins):
    """{number of tags: clips}, from the inspection's ``tags_per_clip`` or else its files."""
    hist = ins.get("tags_per_clip")
    if hist is None:
        hist = {}
        for f in ins["files"]:
            hist[len(_tags(f))] = hist.get(len(_tags(f)), 0) + 1
    return {int(k): int(v) for k, v in sorted(hist.items(), key=lambda kv: int(kv[0]))}


def _n_untagged(ins):
    n = ins.get("n_untagged")
    return int(_tags_per_clip(ins).get(0, 0) if n is None else n)


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
        also = " A clip counts once for each of its tags." if _is_multi(ins) else ""
        body += ("<h3>Clips per fold</h3><p class=\"lead\">A class missing from a fold cannot be "
                 f"tested there; very uneven folds make the fold scores hard to compare.{also}</p>"
                 + table(header, frows))
    if _is_multi(ins):
        lead = ("Clips carrying each tag and their durations; a clip with several tags counts "
                "once for each. A rare tag gets few positive examples to learn from: judge "
                "models by per-class average precision and macro scores, not by the frequent "
                "tags alone.")
    else:
        lead = ("Clips per class and their durations. Accuracy on an imbalanced set mostly "
                "reflects the large classes; balanced accuracy weighs every class the same.")
    return ("classes", "Class balance", lead, body)


def _tags_per_clip_png(hist):
    """Bars of clips per number of tags, 0 to the largest number (empty counts drawn as gaps)."""
    top = max(hist, default=0)
    xs = np.arange(top + 1)
    values = [hist.get(int(x), 0) for x in xs]
    fig = plots._figure(4.6, 2.8)
    ax = fig.add_subplot()
    plots._style(ax)
    ax.bar(xs, values, color=["#c98a07" if x == 0 else "#2f6fdf" for x in xs], width=0.7)
    for x, v in zip(xs, values):
        ax.text(x, v, f"{v}", ha="center", va="bottom", fontsize=7, color="#333")
    ax.set_xticks(xs)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("tags per clip")
    ax.set_ylabel("clips")
    ax.set_ylim(0, max(values + [1]) * 1.15)
    ax.set_title("tags per clip")
    return plots._png(fig)


def _tags_section(ins):
    """Multi-label only: how many tags the clips carry, the untagged clips, events per class."""
    hist = _tags_per_clip(ins)
    n_clips = sum(hist.values())
    n_untagged = _n_untagged(ins)
    rows = [[str(k), _num_td(fmt_int(v), data_stat="tags_per_clip", data_key=k, data_value=v)]
            for k, v in hist.items()]
    tbl = table(["tags", "clips"], rows)
    share = f" ({100 * n_untagged / n_clips:.1f}% of the clips)" if n_clips else ""
    n_html = f'<b{attrs(data_stat="n_untagged", data_value=n_untagged)}>{n_untagged}</b>'
    if n_untagged:
        untagged = (f"<p>{n_html} untagged clip{'' if n_untagged == 1 else 's'}{share}: "
                    "background with none of the tags, a negative example for every one of "
                    "them.</p>")
    else:
        untagged = (f"<p>{n_html} untagged clips: every clip carries at least one tag, so the "
                    "model never hears the background alone.</p>")
    body = (f'<div class="figs"><figure><img alt="tags per clip" '
            f'src="{_tags_per_clip_png(hist)}"></figure><div>{tbl}{untagged}</div></div>')
    if "n_events" in ins:
        classes = ins["classes"]
        erows = []
        for label in sorted(classes):
            c = classes[label]
            n_ev = int(c.get("n_events", 0))
            per = f"{n_ev / c['count']:.2f}" if c.get("count") else "–"
            erows.append([f"<td><b>{esc(label)}</b></td>",
                          _num_td(fmt_int(c["count"])),
                          _num_td(fmt_int(n_ev), data_class=label, data_stat="n_events",
                                  data_value=n_ev),
                          _num_td(per)])
        n_events = int(ins["n_events"])
        erows.append(["<td><b>all</b></td>", _num_td(fmt_int(n_clips)),
                      _num_td(fmt_int(n_events), data_stat="n_events", data_value=n_events),
                      _num_td(f"{n_events / n_clips:.2f}" if n_clips else "–")])
        body += ("<h3>Events per class</h3><p class=\"lead\">Annotated events of each class and "
                 "the clips tagged with it; a tag's clips may hold several of its events.</p>"
                 + table(["class", "clips", "events", "events per clip"], erows))
    lead = ("How many tags the clips carry. A model trained on clips with many tags at once "
            "must pick each sound out of a mixture; untagged clips teach it what none of the "
            "sounds is.")
    return ("tags", "Tags per clip", lead, body)


def _ranges_png(groups, *, xlabel, title, log_x=False):
    """One row per group: a line from the smallest to the largest value, a box from the first to
    the third quartile and a tick at the median, with the number of values at the right.

    For groups that overlap (the clips of each tag), where stacked histograms would count a
    clip once per tag. ``groups`` maps a name to a list of finite values, drawn top to bottom
    in the order given.
    """
    names = list(groups)
    n = len(names)
    fig = plots._figure(4.6, float(np.clip(0.9 + 0.26 * n, 1.8, 16)))
    ax = fig.add_subplot()
    plots._style(ax)
    all_values = np.concatenate([np.asarray(v, float) for v in groups.values()] or [np.zeros(0)])
    if all_values.size == 0:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
        return plots._png(fig)
    lo, hi = float(all_values.min()), float(all_values.max())
    log = log_x and lo > 0 and hi / lo > 20
    for i, name in enumerate(names):
        v = np.asarray(groups[name], float)
        if v.size == 0:
            continue
        color = "#7f7f7f" if i == 0 else plots.PALETTE[(i - 1) % len(plots.PALETTE)]
        q1, med, q3 = np.percentile(v, [25, 50, 75])
        ax.hlines(i, v.min(), v.max(), color=color, lw=1.2)
        ax.barh(i, q3 - q1, left=q1, height=0.55, color=color, alpha=0.35, edgecolor=color)
        ax.vlines(med, i - 0.3, i + 0.3, color=color, lw=2.2)
    ax.set_yticks(np.arange(n), labels=[plots._short(k) for k in names],
                  fontsize=8 if n < 40 else 6)
    ax.set_ylim(n - 0.5, -0.5)
    if log:
        ax.set_xscale("log")
    elif hi == lo:
        ax.set_xlim(lo - 0.5, hi + 0.5)
    counts = ax.secondary_yaxis("right")
    counts.set_yticks(np.arange(n), labels=[str(len(groups[k])) for k in names], fontsize=7)
    counts.tick_params(length=0)
    counts.spines["right"].set_visible(False)
    ax.grid(axis="x", color="#eee")
    ax.set_axisbelow(True)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    return plots._png(fig)


def _level_figures(files, rows, plot, *, alt_suffix, drawn):
    """The duration, peak and RMS figures of ``rows`` (name -> files), drawn with ``plot``,
    and a note on the digitally silent files left out of the level ``drawn``."""
    def groups(key):
        return {k: _finite(f.get(key) for f in v) for k, v in rows.items()}

    figs = [
        (plot(groups("duration_s"), xlabel="duration (s)", title="durations", log_x=True),
         "durations" + alt_suffix),
        (plot(groups("peak_dbfs"), xlabel="peak level (dBFS)", title="peak levels"),
         "peak levels" + alt_suffix),
        (plot(groups("rms_dbfs"), xlabel="RMS level (dBFS)", title="RMS levels"),
         "RMS levels" + alt_suffix),
    ]
    n_inf = sum(1 for f in files if f.get("rms_dbfs") is None
                or not math.isfinite(float(f["rms_dbfs"])))
    note = (f'<p class="muted">{n_inf} digitally silent files (−inf dBFS) are left out of the '
            f"level {drawn}.</p>") if n_inf else ""
    return '<div class="figs">' + "".join(
        f'<figure><img alt="{esc(alt)}" src="{uri}"></figure>' for uri, alt in figs) + \
        "</div>" + note


def _tag_distributions_section(ins):
    files = ins["files"]
    by_tag, untagged = _files_by_tag(files)
    rows = {"all clips": files}
    rows.update((t, by_tag[t]) for t in sorted(by_tag))
    if untagged:
        rows["(no tags)"] = untagged

    body = _level_figures(files, rows, _ranges_png, alt_suffix=" per tag", drawn="plots")
    lead = ("Per tag, over the clips carrying it (a clip counts for each of its tags): the line "
            "runs from the smallest to the largest value, the box holds the middle half and the "
            "tick marks the median; the number of clips is at the right. If the clips of one "
            "tag are much louder, quieter or longer than the rest, a model can learn that "
            "instead of the sound itself.")
    return ("distributions", "Durations and levels per tag", lead, body)


def _distributions_section(ins):
    if _is_multi(ins):
        return _tag_distributions_section(ins)
    files = ins["files"]
    by_class = {}
    for f in files:
        by_class.setdefault(str(f["label"]), []).append(f)

    body = _level_figures(files, by_class, plots.histogram_png, alt_suffix="",
                          drawn="histograms")
    lead = ("If one class is much louder, quieter or longer than the others, a model can learn "
            "that instead of the sound itself.")
    return ("distributions", "Durations and levels", lead, body)


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


def _event_start(f, tag):
    """Where to start showing ``f`` so that its first ``tag`` event is heard, or None for the
    file's start. Only for file entries that list their ``events`` (dicts with ``onset``,
    ``offset`` and ``event_label``, in seconds from the file's start)."""
    events = f.get("events") or []
    onsets = sorted(float(e["onset"]) for e in events
                    if isinstance(e, dict) and e.get("event_label") == tag
                    and e.get("onset") is not None and math.isfinite(float(e["onset"])))
    if not onsets or onsets[0] < MAX_CLIP_S - 0.5:
        return None
    start = onsets[0] - 0.5
    duration = f.get("duration_s")
    if duration:
        start = min(start, float(duration) - MAX_CLIP_S)
    return max(0.0, start)


def _tag_pills(tags, featured):
    if not tags:
        return '<span class="pill pill-warn">no tags</span>'
    first = [t for t in tags if t == featured]
    return " ".join(
        [f'<span class="pill pill-info">{esc(t)}</span>' for t in first]
        + [f'<span class="pill" style="background:#fff;color:#5d6b7e;font-weight:400;'
           f'box-shadow:inset 0 0 0 1px #d5dbe5">{esc(t)}</span>'
           for t in tags if t != featured])


def _tag_example_card(ins, tag, f):
    tags = _tags(f)
    start = None if tag == UNTAGGED else _event_start(f, tag)
    what = "an untagged clip" if tag == UNTAGGED else tag
    duration = f.get("duration_s") or 0.0
    try:
        audio_uri, spec_uri, shown_s = clip_and_spectrogram(f["path"], start_s=start)
        media = (f'<img alt="log-mel spectrogram of {esc(what)}" src="{spec_uri}">'
                 f'<audio controls preload="metadata" src="{audio_uri}"></audio>')
        if start is not None:
            meta = (f"{start:.2f}–{start + shown_s:.2f} s of {duration:.2f} s shown, from just "
                    f"before the first {tag} event")
        elif duration > shown_s + 1e-3:
            meta = (f"first {shown_s:.2f} s of {duration:.2f} s shown"
                    + ("" if tag == UNTAGGED else f": the {tag} sound may come later"))
        else:
            meta = f"{shown_s:.2f} s shown"
    except EarmarkError as exc:
        media = f'<p class="note">Audio not shown: {esc(exc)}</p>'
        meta = ""
    heading = '<span class="muted">untagged</span>' if tag == UNTAGGED else esc(tag)
    others = len(tags) - (tag in tags)
    alone = ("" if tag == UNTAGGED else " (alone)" if not others else
             f" (with {others} other{'s' if others > 1 else ''})")
    return (f'<div class="example"{attrs(data_example=tag, data_tags=";".join(tags))}>'
            f"<h3>{heading}<span class=\"muted\" style=\"font-weight:400;font-size:13px\">"
            f"{esc(alone)}</span></h3>"
            f'<div style="margin:0 0 6px">{_tag_pills(tags, tag)}</div>'
            f'<div class="path" title="{esc(f["path"])}">'
            f'{esc(_rel(f["path"], ins["root"]))}</div>{media}'
            f'<div class="muted" style="font-size:12px">{esc(meta)}</div></div>')


def _tag_examples_section(ins, chosen, bar):
    cards = []
    for tag, f in chosen.items():
        cards.append(_tag_example_card(ins, tag, f))
        bar.update(1)
    body = f'<div class="examples">{"".join(cards)}</div>' if cards else \
        '<p class="note">No readable files.</p>'
    lead = ("For each tag, a clip that carries it: alone where some clip has it alone, else "
            "with the fewest other tags. The card lists every tag of the clip, the one it "
            "stands for first, in blue; check that each can be heard."
            + (" Last, a clip with no tag: it should hold none of these sounds."
               if UNTAGGED in chosen else ""))
    return ("examples", "One example per tag", lead, body)


def _examples_section(ins, bar, chosen=None):
    if _is_multi(ins):
        if chosen is None:
            chosen = pick_examples(ins["files"], multi_label=True)
        return _tag_examples_section(ins, chosen, bar)
    chosen = pick_examples(ins["files"]) if chosen is None else chosen
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
    multi = _is_multi(ins)
    rows = []
    for f in flagged[:_MAX_ROWS]:
        pills = []
        if f.get("silent"):
            pills.append('<span class="pill pill-warn">silent</span>')
        if f.get("clipped"):
            pills.append('<span class="pill pill-bad">clipped</span>')
        label = (", ".join(_tags(f)) or "(no tags)") if multi else f["label"]
        rows.append([f'<td title="{esc(f["path"])}">{esc(_rel(f["path"], ins["root"]))}</td>',
                     f"<td>{esc(label)}</td>", f"<td>{' '.join(pills)}</td>",
                     fmt_db(f.get("peak_dbfs")), fmt_db(f.get("rms_dbfs")),
                     f"{100 * float(f.get('clipped_fraction') or 0.0):.2f}%"])
    more = len(flagged) - _MAX_ROWS
    tail = f'<p class="muted">… and {more} more files.</p>' if more > 0 else ""
    lead = ("Silent files teach the model nothing (or that silence is a class); clipped files "
            "carry distortion the model may learn as a cue.")
    return ("levels", "Silent and clipped files", lead,
            table(["file", "tags" if multi else "class", "", "peak (dBFS)", "RMS (dBFS)",
                   "clipped samples"], rows,
                  numeric_from=3) + tail)


def write_dataset_report(inspection, path, *, progress=True):
    """Write a dataset inspection as one self-contained HTML page.

    The page shows class balance (and clips per fold), duration and level histograms, sample
    rates and channels, one example spectrogram per class with its audio, duplicates and
    cross-fold leaks, silent and clipped files, the inspection's problems and suggestions, and
    suggestions of its own (window length from the durations, class imbalance, mixed sample
    rates).

    For a multi-label inspection (``multi_label`` true) the page goes by tag: clips per tag,
    a "tags per clip" section (``tags_per_clip``, ``n_untagged`` and, with annotations,
    ``n_events`` per class), durations and levels per tag (a clip counts for each of its tags),
    and one example per tag plus one untagged clip, each card listing all the clip's tags. A
    file entry that lists its ``events`` (dicts with ``onset``, ``offset``, ``event_label``) is
    shown from just before its first event of the example's tag rather than from its start.

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
    multi = _is_multi(inspection)
    chosen = pick_examples(inspection["files"], multi_label=multi)
    builders = [_advice_section, _classes_section] + ([_tags_section] if multi else []) + [
        _distributions_section, _formats_section]
    with tqdm(total=len(builders) + 2 + len(chosen), desc="dataset report", unit="part",
              disable=not progress, leave=False) as bar:
        sections = []
        for build in builders:
            sections.append(build(inspection))
            bar.update(1)
        sections.append(_examples_section(inspection, bar, chosen))
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
