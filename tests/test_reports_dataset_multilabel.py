"""The dataset report of a multi-label dataset: examples, distributions and counts per tag, a
"tags per clip" section; and the single-label report left as it was.

Every dataset is generated here: short tones and noise at 8 kHz, written with soundfile, with the
metadata.csv + annotations.csv (or the manifest with a ``labels`` column) that describe them.
The browser check at the end opens the page in headless Chromium (``scripts/install_browser.sh``
installs it; skipped, saying why, without). Set ``EARMARK_SCREENSHOT=/tmp/dataset_multilabel.png``
to keep a full-page screenshot.
"""

import csv
import os

import numpy as np
import pytest
import soundfile as sf

from earmark.data import inspect_dataset, load_dataset
from earmark.reports import write_dataset_report
from earmark.reports.dataset import UNTAGGED, _event_start, pick_examples
from test_reports import parse, with_attr
from test_reports_browser import _MEDIA_STATE, _NUMBERS, browser, checked_page  # noqa: F401

SR = 8000

# name: (seconds, kind, events as (onset, offset, label)); f.wav is silent, e.wav has no event
CLIPS = {
    "audio/a.wav": (1.0, "tone", [(0.1, 0.6, "dog")]),
    "audio/b.wav": (1.5, "noise", [(0.1, 0.4, "dog"), (0.8, 1.2, "dog"), (0.2, 0.9, "bell")]),
    "audio/c.wav": (6.0, "tone", [(0.5, 1.0, "bell"), (4.6, 5.2, "bird")]),
    "audio/d.wav": (1.0, "noise", [(0.1, 0.3, "bird"), (0.2, 0.5, "dog"), (0.5, 0.9, "bell")]),
    "audio/e.wav": (0.8, "noise", []),
    "audio/f.wav": (1.0, "silent", [(0.2, 0.5, "bell")]),
}
FOLDS = {"audio/a.wav": "1", "audio/b.wav": "1", "audio/c.wav": "1", "audio/d.wav": "2",
         "audio/e.wav": "2", "audio/f.wav": "2"}
TAGS = {name: tuple(sorted({e[2] for e in events})) for name, (_, _, events) in CLIPS.items()}
LABELS = ["bell", "bird", "dog"]
# bell: f is alone but silent, so b or c (one other tag each; b by path); bird: never alone, c
# has one other tag and d two; dog: a alone; then the untagged clip
EXPECTED_EXAMPLES = {"bell": "audio/b.wav", "bird": "audio/c.wav", "dog": "audio/a.wav",
                     UNTAGGED: "audio/e.wav"}
SINGLE_SECTIONS = ["advice", "classes", "distributions", "formats", "examples", "duplicates",
                   "levels"]
MULTI_SECTIONS = ["advice", "classes", "tags", "distributions", "formats", "examples",
                  "duplicates", "levels"]


def _signal(kind, seconds, rng):
    t = np.arange(int(seconds * SR)) / SR
    if kind == "tone":
        return 0.3 * np.sin(2 * np.pi * 660.0 * t)
    if kind == "noise":
        return 0.2 * rng.standard_normal(t.size)
    return np.zeros(t.size)


def _write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def make_tagged_folder(root, *, seed=0):
    """metadata.csv (placeholder label 'scene', as the benchmark's) + annotations.csv."""
    rng = np.random.default_rng(seed)
    for name, (seconds, kind, _) in CLIPS.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, _signal(kind, seconds, rng).astype(np.float32), SR, subtype="PCM_16")
    _write_csv(root / "metadata.csv", ["filename", "label", "fold"],
               [[name, "scene", FOLDS[name]] for name in CLIPS])
    _write_csv(root / "annotations.csv", ["filename", "onset", "offset", "event_label"],
               [[name, on, off, lab] for name, (_, _, events) in CLIPS.items()
                for on, off, lab in events])
    return root


def _write(ins, path):
    write_dataset_report(ins, path, progress=False)
    text = path.read_text(encoding="utf-8")
    return text, parse(text)


def _stats(els):
    """{(stat, key or class or None): [texts]} of every element with a data-stat."""
    out = {}
    for _, a, text in with_attr(els, "data-stat"):
        key = a.get("data-key", a.get("data-fold", a.get("data-class")))
        if a.get("data-stat") == "fold_count":
            key = (a["data-fold"], a["data-class"])
        out.setdefault((a["data-stat"], key), []).append(text.strip())
    return out


def _sections(els):
    return [a["id"] for tag, a, _ in els if tag == "section"]


@pytest.fixture(scope="module")
def tagged(tmp_path_factory):
    root = make_tagged_folder(tmp_path_factory.mktemp("tagged") / "scenes")
    ds = load_dataset(root)
    ins = inspect_dataset(ds, progress=False)
    text, els = _write(ins, root.parent / "dataset.html")
    return {"root": root, "ins": ins, "text": text, "els": els,
            "path": root.parent / "dataset.html"}


# ---------------------------------------------------------------------------------------------
# Picking the examples


def test_pick_examples_per_tag_prefers_the_tag_alone():
    def f(path, labels, **kw):
        return {"path": path, "labels": labels, "duration_s": 1.0, "silent": False,
                "clipped": False, **kw}

    files = [f("/x/1.wav", ["a", "b", "c"]), f("/x/2.wav", ["a", "b"]), f("/x/3.wav", ["b"]),
             f("/x/4.wav", ["c"], silent=True), f("/x/5.wav", ["a", "c"]), f("/x/6.wav", [])]
    chosen = pick_examples(files, multi_label=True)
    assert list(chosen) == ["a", "b", "c", UNTAGGED]
    # a: never alone, 2 and 5 have one other tag (2 by path); b: alone in 3; c: alone in 4 but
    # silent, so 5 (one other tag) rather than 1 (two others)
    assert {k: v["path"] for k, v in chosen.items()} == {
        "a": "/x/2.wav", "b": "/x/3.wav", "c": "/x/5.wav", UNTAGGED: "/x/6.wav"}
    # a clip already shown for another tag gives way to an equally good one
    two = [f("/y/1.wav", ["a", "b"]), f("/y/2.wav", ["b", "c"])]
    assert {k: v["path"] for k, v in pick_examples(two, multi_label=True).items()} == {
        "a": "/y/1.wav", "b": "/y/2.wav", "c": "/y/2.wav"}
    # an inspection without 'labels' per file: the ';'-joined label column
    joined = [{"path": "/z/1.wav", "label": "a;b", "duration_s": 1.0},
              {"path": "/z/2.wav", "label": "", "duration_s": 1.0}]
    assert {k: v["path"] for k, v in pick_examples(joined, multi_label=True).items()} == {
        "a": "/z/1.wav", "b": "/z/1.wav", UNTAGGED: "/z/2.wav"}
    # no untagged clip, no untagged example; and the single-label choice is per label string
    assert UNTAGGED not in pick_examples(files[:5], multi_label=True)
    single = pick_examples([dict(x, label=";".join(x["labels"])) for x in files[:3]])
    assert sorted(single) == ["a;b", "a;b;c", "b"]


def test_event_start_shows_the_tag_event():
    f = {"duration_s": 10.0, "events": [{"onset": 5.8, "offset": 6.5, "event_label": "bow"},
                                        {"onset": 7.8, "offset": 8.5, "event_label": "bow"},
                                        {"onset": 1.0, "offset": 1.5, "event_label": "dog"},
                                        {"onset": 9.5, "offset": 9.9, "event_label": "axe"}]}
    assert _event_start(f, "bow") == pytest.approx(5.3)   # half a second before its first
    assert _event_start(f, "dog") is None          # already in the first 4 s
    assert _event_start(f, "axe") == pytest.approx(6.0)  # the last 4 s, not past the end
    assert _event_start(f, "cat") is None
    assert _event_start({"duration_s": 10.0}, "bow") is None


# ---------------------------------------------------------------------------------------------
# The multi-label report (metadata.csv + annotations.csv)


def test_inspection_is_multi_label(tagged):
    ins = tagged["ins"]
    assert ins["multi_label"] is True
    assert ins["tags_per_clip"] == {"0": 1, "1": 2, "2": 2, "3": 1}
    assert ins["n_untagged"] == 1
    assert ins["n_events"] == sum(len(ev) for _, _, ev in CLIPS.values())


def test_report_sections_and_counts(tagged):
    els, ins = tagged["els"], tagged["ins"]
    assert _sections(els) == MULTI_SECTIONS
    stats = _stats(els)
    # tags per clip, untagged clips (card and section), mean number of tags
    n_tags = [len(t) for t in TAGS.values()]
    expected_hist = {str(k): str(n_tags.count(k)) for k in sorted(set(n_tags))}
    assert {k: v[0] for (s, k), v in stats.items() if s == "tags_per_clip"} == expected_hist
    assert stats[("n_untagged", None)] == ["1", "1"]
    assert stats[("mean_tags_per_clip", None)] == [f"{np.mean(n_tags):.2f}"]
    # clips per tag, and events per class and overall
    for label in LABELS:
        n = sum(label in t for t in TAGS.values())
        assert stats[("count", label)] == [str(n)] and ins["classes"][label]["count"] == n
        events = sum(e[2] == label for _, _, ev in CLIPS.values() for e in ev)
        assert stats[("n_events", label)] == [str(events)]
    assert stats[("n_events", None)] == [str(ins["n_events"])]
    # clips per fold count a clip once per tag
    for fold in ("1", "2"):
        for label in LABELS:
            n = sum(label in TAGS[name] for name in CLIPS if FOLDS[name] == fold)
            assert stats.get(("fold_count", (fold, label)), ["0"]) == [str(n)]
    assert stats[("n_clips", None)] == [str(len(CLIPS))]
    assert stats[("n_classes", None)] == [str(len(LABELS))]


def test_report_examples_per_tag(tagged):
    els, root = tagged["els"], tagged["root"]
    cards = with_attr(els, "data-example")
    assert [a["data-example"] for _, a, _ in cards] == list(EXPECTED_EXAMPLES)
    for (_, a, text), (tag, name) in zip(cards, EXPECTED_EXAMPLES.items()):
        assert a["data-tags"] == ";".join(TAGS[name])
        assert name in text                         # the path, relative to the dataset folder
        assert str(root) not in text
        for t in TAGS[name]:                        # every tag of the clip is on the card
            assert t in text
        if tag != UNTAGGED:
            others = len(TAGS[name]) - 1
            assert ("(alone)" if not others else f"(with {others} other") in text
    # the 6-s clip is cut to its first 4 s, and says the tag may sound later
    bird = cards[list(EXPECTED_EXAMPLES).index("bird")][2]
    assert "first 4.00 s of 6.00 s shown: the bird sound may come later" in bird
    assert "no tags" in cards[-1][2]
    assert len([e for e in els if e[0] == "audio"]) == len(EXPECTED_EXAMPLES)
    imgs = [a["alt"] for tag, a, _ in els if tag == "img"]
    assert imgs == (["clips per class", "tags per clip", "durations per tag",
                     "peak levels per tag", "RMS levels per tag"]
                    + [f"log-mel spectrogram of {t}" for t in ("bell", "bird", "dog")]
                    + ["log-mel spectrogram of an untagged clip"])


def test_report_shows_tags_not_combinations(tagged):
    text = tagged["text"]
    visible = " ".join(t for tag, _, t in tagged["els"] if tag in ("h2", "h3", "td", "figure"))
    combos = {";".join(t) for t in TAGS.values() if len(t) > 1}
    assert not any(c in visible for c in combos)
    assert "One example per tag" in text and "Durations and levels per tag" in text
    # the silent clip is listed with its tags
    row = next(e for e in tagged["els"] if e[0] == "tr" and "f.wav" in e[2])
    assert "bell" in row[2] and "silent" in row[2]


def test_events_move_the_example_window(tagged, tmp_path):
    ins = dict(tagged["ins"])
    ins["files"] = [dict(f, events=[{"onset": on, "offset": off, "event_label": lab}
                                    for on, off, lab in CLIPS[os.path.relpath(
                                        f["path"], tagged["root"])][2]])
                    for f in ins["files"]]
    _, els = _write(ins, tmp_path / "events.html")
    bird = next(t for _, a, t in with_attr(els, "data-example", data_example="bird"))
    assert "2.00–6.00 s of 6.00 s shown, from just before the first bird event" in bird


def test_manifest_with_a_labels_column(tmp_path):
    root = make_tagged_folder(tmp_path / "scenes")
    os.remove(root / "annotations.csv")
    os.remove(root / "metadata.csv")
    _write_csv(root / "manifest.csv", ["path", "labels", "fold"],
               [[name, ";".join(TAGS[name]), FOLDS[name]] for name in CLIPS])
    ds = load_dataset(root / "manifest.csv")
    assert ds.is_multi_label
    ins = inspect_dataset(ds, progress=False)
    _, els = _write(ins, tmp_path / "manifest.html")
    assert _sections(els) == MULTI_SECTIONS
    assert [a["data-example"] for _, a, _ in with_attr(els, "data-example")] == \
        list(EXPECTED_EXAMPLES)
    stats = _stats(els)
    assert not [k for k in stats if k[0] == "n_events"]     # no annotations, no events table
    assert stats[("n_untagged", None)] == ["1", "1"]
    h3 = [t for tag, _, t in els if tag == "h3"]
    assert "Events per class" not in h3


def test_every_clip_tagged_and_an_old_inspection(tagged, tmp_path):
    ins = dict(tagged["ins"])
    ins["files"] = [{k: v for k, v in f.items() if k != "labels"}   # only the joined label
                    for f in ins["files"] if f["labels"]]
    for key in ("tags_per_clip", "n_untagged", "n_events"):   # worked out from the files
        del ins[key]
    text, els = _write(ins, tmp_path / "old.html")
    stats = _stats(els)
    assert stats[("n_untagged", None)] == ["0", "0"]
    assert {k: v[0] for (s, k), v in stats.items() if s == "tags_per_clip"} == {
        "1": "2", "2": "2", "3": "1"}
    assert [a["data-example"] for _, a, _ in with_attr(els, "data-example")] == LABELS
    assert "every clip carries at least one tag" in text


# ---------------------------------------------------------------------------------------------
# The single-label report keeps its structure


def test_single_label_report_unchanged_in_structure(tmp_path):
    rng = np.random.default_rng(1)
    for label in ("hat", "kick"):
        (tmp_path / "data" / label).mkdir(parents=True)
        for i in range(3):
            sf.write(tmp_path / "data" / label / f"{label}_{i}.wav",
                     _signal("tone" if label == "hat" else "noise", 0.5 + 0.2 * i, rng)
                     .astype(np.float32), SR, subtype="PCM_16")
    ins = inspect_dataset(load_dataset(tmp_path / "data"), progress=False)
    assert ins["multi_label"] is False
    text, els = _write(ins, tmp_path / "single.html")
    assert _sections(els) == SINGLE_SECTIONS
    assert [a["data-example"] for _, a, _ in with_attr(els, "data-example")] == ["hat", "kick"]
    assert not with_attr(els, "data-tags")
    stats = _stats(els)
    assert not [k for k in stats if k[0] in ("tags_per_clip", "n_untagged", "n_events",
                                             "mean_tags_per_clip")]
    imgs = [a["alt"] for tag, a, _ in els if tag == "img"]
    assert imgs == ["clips per class", "durations", "peak levels", "RMS levels",
                    "log-mel spectrogram of hat", "log-mel spectrogram of kick"]
    assert "One example per class" in text and "Tags per clip" not in text


# ---------------------------------------------------------------------------------------------
# In a browser


def test_multi_label_report_in_chromium(browser, tagged):  # noqa: F811 (pytest fixture)
    with checked_page(browser, tagged["path"]) as page:
        n_examples = len(EXPECTED_EXAMPLES)
        state = page.evaluate(_MEDIA_STATE)
        assert len(state["images"]) == 5 + n_examples
        broken = [i["alt"] for i in state["images"] if not (i["complete"] and i["width"] > 0)]
        assert not broken, f"images that did not load: {broken}"
        # the audio of each example, in page order; a clip cut to 4 s plays for 4 s and a few
        # ms of Vorbis padding (test_reports_browser's 4.01 s bound is for shorter clips)
        durations = [a["duration"] for a in state["audios"]
                     if a["ready"] >= 1 and a["error"] is None]
        lengths = [min(CLIPS[name][0], 4.0) for name in EXPECTED_EXAMPLES.values()]
        assert durations == pytest.approx(lengths, abs=0.05)
        for sid in MULTI_SECTIONS:
            section = page.locator(f"section#{sid}")
            assert section.is_visible(), sid
            assert section.bounding_box()["height"] > 60, sid
        for alt in ("tags per clip", "durations per tag"):
            img = page.locator(f'img[alt="{alt}"]')
            assert img.is_visible() and img.bounding_box()["width"] > 300
        shown = {}
        for a, text in page.evaluate(_NUMBERS):
            if a.get("data-stat") in ("tags_per_clip", "n_events", "n_untagged"):
                shown[(a["data-stat"], a.get("data-key", a.get("data-class")))] = text.strip()
        ins = tagged["ins"]
        assert {k: v for (s, k), v in shown.items() if s == "tags_per_clip"} == \
            {k: str(v) for k, v in ins["tags_per_clip"].items()}
        assert shown[("n_untagged", None)] == str(ins["n_untagged"])
        assert shown[("n_events", None)] == str(ins["n_events"])
        assert page.locator("[data-example]").count() == n_examples

