"""Dataset validation: every problem found at once, each naming its file."""

from collections import Counter

from tqdm.auto import tqdm

from ..audio import info as audio_info
from ..errors import AudioError, DatasetError

__all__ = ["find_problems", "validate_dataset"]


def find_problems(dataset, *, min_duration_s=0.02, min_per_class=2, progress=False):
    """List every problem of ``dataset`` without raising.

    Returns
    -------
    problems : list of str
        Missing, unreadable or empty files, clips shorter than ``min_duration_s``, regions beyond
        the end of their file, and classes with fewer than ``min_per_class`` clips.
    infos : dict
        path -> :class:`earmark.audio.AudioInfo` for every readable file.
    """
    problems, infos = [], {}
    t = dataset.table
    for path in tqdm(sorted(set(t["path"])), desc="checking files", disable=not progress,
                     unit="file"):
        try:
            i = audio_info(path)
        except AudioError as exc:
            problems.append(str(exc))
            continue
        if i.frames == 0:
            problems.append(f"{path}: no audio samples (empty file)")
            continue
        infos[path] = i
    for path, start, end in zip(t["path"], t["start_s"], t["end_s"]):
        i = infos.get(path)
        if i is None:
            continue
        s = 0.0 if start != start else float(start)      # NaN -> whole file
        e = i.duration_s if end != end else float(end)
        if s >= i.duration_s:
            problems.append(f"{path}: region starts at {s:.3f} s, after the end of the file "
                            f"({i.duration_s:.3f} s)")
        elif e - s < min_duration_s:
            problems.append(f"{path}: too short ({(e - s) * 1000:.1f} ms; at least "
                            f"{min_duration_s * 1000:.0f} ms needed)")
        elif e > i.duration_s + 1e-3:
            problems.append(f"{path}: region ends at {e:.3f} s, after the end of the file "
                            f"({i.duration_s:.3f} s)")
    counts = Counter(t["label"])
    for label, n in sorted(counts.items()):
        if n < min_per_class:
            problems.append(f"class {label!r}: only {n} example(s); at least {min_per_class} "
                            "needed")
    if len(counts) < 2:
        problems.append(f"only {len(counts)} class ({', '.join(map(repr, counts))}); a "
                        "classifier needs at least 2")
    return problems, infos


def validate_dataset(dataset, *, min_duration_s=0.02, min_per_class=2, progress=False):
    """Raise :class:`DatasetError` listing every problem of ``dataset``; return file infos.

    Examples
    --------
    >>> infos = validate_dataset(load_dataset("drums/"))   # doctest: +SKIP
    """
    problems, infos = find_problems(dataset, min_duration_s=min_duration_s,
                                    min_per_class=min_per_class, progress=progress)
    if problems:
        raise DatasetError(f"{dataset.source}: {len(problems)} problem(s) found", problems)
    return infos
