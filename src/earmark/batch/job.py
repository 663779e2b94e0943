"""The job in its output folder: manifest, input fingerprints, partition plan, commit and resume.

An output folder holds the results as a Parquet dataset, ``part-00000.parquet``,
``part-00001.parquet`` ..., and the job's own state under ``_earmark/`` (Parquet readers skip
names that start with ``_`` or ``.``)::

    results/
      part-00000.parquet        rows of one partition + the list of its inputs (file metadata)
      _earmark/job.json         command, model file hash, settings, runs
      _earmark/inputs.parquet   every input seen: path, size, mtime, quick hash, duration
      _earmark/failed.json      partitions that failed after their retries (redone next run)
      _earmark/staging/         what workers write before the driver commits it
      _earmark/lock             held by the run that writes the folder

A partition is committed by one ``os.replace`` of a complete file written by a worker into
``staging/``; its inputs travel inside it (Parquet key ``earmark.batch``), so a part file in the
folder *is* the commit, and nothing can record inputs whose rows are not there. Only the driver
commits: a worker left running by a killed driver can write no more than staging files, which
the next run removes.

This module knows files and tables; nothing about Dask or models.
"""

import contextlib
import datetime
import hashlib
import json
import os
import re
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from .._io import TEMP_SUFFIX, remove_stale_temporaries, write_json
from ..errors import AudioError, DatasetError, ParameterError

try:                      # POSIX: the running job holds a lock on _earmark/lock
    import fcntl
except ImportError:       # pragma: no cover - Windows: no protection against two runs at once
    fcntl = None

__all__ = ["STATE_DIR", "JobSpec", "open_job", "scan_inputs", "quick_hash", "committed_parts",
           "plan_partitions", "commit_part", "read_part_meta", "input_key", "FORMAT"]

#: Version of the folder layout written in job.json.
FORMAT = "earmark-batch/1"
#: The job's own files, inside the output folder.
STATE_DIR = "_earmark"
#: Parquet file-metadata key holding a part's inputs and timings (JSON).
META_KEY = b"earmark.batch"
PART_RE = re.compile(r"\Apart-(\d{5,})\.parquet\Z")
#: Bytes hashed at each end of a file by :func:`quick_hash`.
HASH_EDGE_BYTES = 1 << 20


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def part_name(index):
    return f"part-{int(index):05d}.parquet"


def input_key(path, start_s=None, end_s=None):
    """The identity of one input: a file, or a region of it (a CSV list's row)."""
    def t(v):
        return None if v is None or (isinstance(v, float) and np.isnan(v)) else float(v)
    return (str(path), t(start_s), t(end_s))


# -- fingerprints ------------------------------------------------------------------------------
def quick_hash(path, size=None):
    """SHA-1 of a file's size, first MiB and last MiB (the whole file when it is under 2 MiB).

    Reading a whole archive of thousands of hours to hash it would cost as much as predicting
    it; the ends of a file (its header, and the last samples written) change whenever a
    recording is rewritten, and the size and modification time catch the rest.

    Examples
    --------
    >>> quick_hash("kick.wav")          # doctest: +SKIP
    '5f0c3b...'
    """
    size = os.path.getsize(path) if size is None else size
    h = hashlib.sha1(f"{size}:".encode())
    with open(path, "rb") as f:
        if size <= 2 * HASH_EDGE_BYTES:
            h.update(f.read())
        else:
            h.update(f.read(HASH_EDGE_BYTES))
            f.seek(size - HASH_EDGE_BYTES)
            h.update(f.read(HASH_EDGE_BYTES))
    return h.hexdigest()


def file_sha256(path):
    """SHA-256 of a whole file (the model file: small, and it must match exactly)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


INPUT_COLUMNS = ["path", "start_s", "end_s", "size", "mtime_ns", "hash", "duration_s"]


def _fingerprint(source, previous):
    """One input's row: stat, quick hash (reused when size and mtime are unchanged), duration."""
    from ..audio import info

    path, start_s, end_s = source
    row = {"path": path, "start_s": start_s, "end_s": end_s, "size": -1, "mtime_ns": -1,
           "hash": "", "duration_s": 0.0}
    try:
        st = os.stat(path)
        row["size"], row["mtime_ns"] = int(st.st_size), int(st.st_mtime_ns)
        old = previous.get(path)
        if old is not None and old[0] == row["size"] and old[1] == row["mtime_ns"]:
            row["hash"], row["duration_s"] = old[2], old[3]
            return row
        row["hash"] = quick_hash(path, st.st_size)
        row["duration_s"] = float(info(path).duration_s)
    except (OSError, AudioError):
        pass        # the worker reports why, in the file's error row
    if start_s is not None or end_s is not None:
        # a region: its own length (the header's when it runs to the end of the file)
        stop = end_s if end_s is not None else row["duration_s"]
        row["duration_s"] = max(0.0, float(stop) - float(start_s or 0.0))
    return row


def scan_inputs(sources, *, previous=None, threads=8):
    """The fingerprint of every input: a DataFrame with :data:`INPUT_COLUMNS`.

    Parameters
    ----------
    sources : list of earmark.data.sources.Source
        The inputs, as :func:`earmark.data.sources.expand_sources` gives them.
    previous : pandas.DataFrame or None
        The table of the last run: a file whose size and mtime are unchanged keeps its hash and
        duration without being read again.
    threads : int
        Files stat-ed, hashed and their headers read at once (network file systems like it).

    Examples
    --------
    >>> from earmark.data.sources import expand_sources
    >>> scan_inputs(expand_sources(["recordings/"]))[["path", "duration_s"]]   # doctest: +SKIP
    """
    prev = {}
    if previous is not None and len(previous):
        for r in previous.itertuples(index=False):
            prev[r.path] = (int(r.size), int(r.mtime_ns), r.hash, float(r.duration_s))
    with ThreadPoolExecutor(max(1, threads)) as pool:
        rows = list(pool.map(lambda s: _fingerprint(s, prev), sources))
    table = pd.DataFrame(rows, columns=INPUT_COLUMNS)
    return table.astype({"start_s": float, "end_s": float, "size": "int64",
                         "mtime_ns": "int64", "duration_s": float})


# -- the job spec and its manifest -------------------------------------------------------------
class JobSpec:
    """What decides a job's answers: the command, the model (its hash) and the settings.

    Two runs with equal specs may share an output folder; the number of workers, the partition
    size and the retries are not part of it (they change how, not what).
    """

    def __init__(self, command, model, settings):
        self.command = command
        self.model = dict(model)
        self.settings = dict(settings)

    def to_dict(self):
        return {"command": self.command, "model": self.model, "settings": self.settings}

    def identity(self):
        model = {k: v for k, v in self.model.items() if k != "path"}
        return {"command": self.command, "model": model, "settings": self.settings}

    def describe_difference(self, other):
        """What differs from ``other`` (a job.json dict), in words; '' when nothing."""
        mine, theirs = self.identity(), JobSpec(other.get("command"), other.get("model", {}),
                                                other.get("settings", {})).identity()
        out = []
        if mine["command"] != theirs["command"]:
            out.append(f"it holds '{theirs['command']}' results, this is '{mine['command']}'")
        if mine["model"] != theirs["model"]:
            old = other.get("model", {})
            out.append(f"the model differs (was {old.get('path') or old.get('name')}, "
                       f"{str(old.get('sha256', ''))[:12] or old.get('settings')})")
        for k in sorted(set(mine["settings"]) | set(theirs["settings"])):
            a, b = mine["settings"].get(k), theirs["settings"].get(k)
            if a != b:
                out.append(f"setting {k} was {b!r}, now {a!r}")
        return "; ".join(out)


def state_path(out, *names):
    return os.path.join(os.fspath(out), STATE_DIR, *names)


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class JobFolder:
    """An open output folder, locked for one run (a context manager)."""

    def __init__(self, out, spec, manifest, lock_fd):
        self.out = os.fspath(out)
        self.spec = spec
        self.manifest = manifest
        self._lock_fd = lock_fd

    @property
    def staging(self):
        return state_path(self.out, "staging")

    def write_manifest(self):
        write_json(self.manifest, state_path(self.out, "job.json"))

    def write_inputs(self, table):
        from .._io import atomic_path
        with atomic_path(state_path(self.out, "inputs.parquet")) as tmp:
            table.to_parquet(tmp, index=False)

    def close(self):
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_inputs(out):
    path = state_path(out, "inputs.parquet")
    return pd.read_parquet(path) if os.path.exists(path) else None


def _lock(out):
    """Hold ``_earmark/lock`` for this run; an error when another run holds it."""
    path = state_path(out, "lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    if fcntl is None:                     # pragma: no cover
        return fd
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise ParameterError(f"{out}: another earmark batch job is writing this folder now; "
                             "wait for it to finish (earmark batch status shows its progress) "
                             "or choose another --out") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def is_running(out):
    """Whether a run holds the folder's lock now."""
    path = state_path(out, "lock")
    if fcntl is None or not os.path.exists(path):
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def _earmark_names(names):
    return [n for n in names if n == STATE_DIR or PART_RE.match(n) or n.endswith(TEMP_SUFFIX)]


def open_job(out, spec, *, restart=False):
    """Open (or create) the output folder ``out`` for a run of ``spec``; returns a
    :class:`JobFolder` holding its lock.

    A folder holding another job's results (another command, model or settings) is refused
    unless ``restart``, which deletes its part files and state first. A folder that holds
    other files and no earmark job is refused: its files are never touched.

    Raises
    ------
    ParameterError
        ``out`` is a file, holds other files, holds a different job (without ``restart``), or
        another run is writing it.

    Examples
    --------
    >>> with open_job("results/", spec) as job:     # doctest: +SKIP
    ...     parts = committed_parts(job.out)
    """
    from .._io import check_output_path

    out = os.fspath(out)
    check_output_path(out, owner="--out", kind="folder")
    os.makedirs(out, exist_ok=True)
    names = os.listdir(out)
    manifest_path = state_path(out, "job.json")
    has_job = os.path.exists(manifest_path)
    if not has_job:
        foreign = sorted(set(names) - set(_earmark_names(names)))
        if foreign:
            raise ParameterError(f"{out}: cannot write --out: the folder holds other files "
                                 f"({', '.join(foreign[:3])}{' ...' if len(foreign) > 3 else ''})"
                                 " and no earmark batch job; give a new or empty folder")
    os.makedirs(state_path(out), exist_ok=True)
    fd = _lock(out)
    try:
        old = None
        if has_job:
            try:
                old = read_json(manifest_path)
            except (OSError, ValueError) as exc:
                if not restart:
                    raise ParameterError(f"{manifest_path}: cannot read the job's manifest "
                                         f"({exc}); rerun with --restart to start over") from None
        if old is not None and not restart:
            if old.get("format") != FORMAT:
                raise ParameterError(f"{out}: written by another version of earmark batch "
                                     f"({old.get('format')}); rerun with --restart")
            diff = spec.describe_difference(old)
            n = len(committed_parts(out)) if diff else 0
            if diff and not n:
                restart = True          # nothing committed: nothing to mix, nothing to lose
            elif diff:
                raise ParameterError(f"{out}: holds results of another job ({diff}); rerun "
                                     f"with --restart to delete its {n} partition(s) and start "
                                     "over, or choose another --out")
        if restart:
            _clear(out)
            old = None
        manifest = {"format": FORMAT, "id": (old or {}).get("id") or uuid.uuid4().hex[:16],
                    **spec.to_dict(),
                    "created": (old or {}).get("created", _now()),
                    "runs": (old or {}).get("runs", [])}
        from .. import __version__
        manifest["earmark_version"] = __version__
        _clean_leftovers(out)
        job = JobFolder(out, spec, manifest, fd)
        job.write_manifest()
        return job
    except BaseException:
        os.close(fd)
        raise


def _clear(out):
    """--restart: delete the part files and the job's state (not the lock file held now)."""
    for name in os.listdir(out):
        if PART_RE.match(name):
            os.unlink(os.path.join(out, name))
    for name in os.listdir(state_path(out)):
        if name == "lock":
            continue
        p = state_path(out, name)
        shutil.rmtree(p) if os.path.isdir(p) else os.unlink(p)


def clean_staging(out):
    """Empty ``_earmark/staging`` (workers' files that were not committed)."""
    shutil.rmtree(state_path(out, "staging"), ignore_errors=True)
    os.makedirs(state_path(out, "staging"), exist_ok=True)


def _clean_leftovers(out):
    """Staging files and temporary files of a run that was killed (the lock says none runs)."""
    clean_staging(out)
    for name in os.listdir(out):
        if name.endswith(TEMP_SUFFIX) and name.startswith(".part-"):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(out, name))
    for name in ("job.json", "inputs.parquet", "failed.json"):
        remove_stale_temporaries(state_path(out, name))


# -- parts ---------------------------------------------------------------------------------
def read_part_meta(path):
    """The ``earmark.batch`` metadata of a part file (its inputs, timings), or None."""
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(path).metadata or {}
        return json.loads(meta[META_KEY])
    except (OSError, KeyError, ValueError):
        return None


def committed_parts(out):
    """``{index: metadata}`` of the part files in ``out``, in order."""
    parts = {}
    for name in sorted(os.listdir(out)):
        m = PART_RE.match(name)
        if m:
            meta = read_part_meta(os.path.join(out, name))
            parts[int(m.group(1))] = meta if meta is not None else {"damaged": True}
    return parts


def commit_part(out, staging_path, index):
    """Move a worker's finished part into the dataset: the one step that commits it."""
    target = os.path.join(os.fspath(out), part_name(index))
    if os.path.exists(target):
        raise DatasetError(f"{target}: already exists; two partitions with one name")
    os.replace(staging_path, target)
    return target


def _drop_rows(out, index, paths):
    """Rewrite part ``index`` without the rows and inputs of ``paths`` (files that changed)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from .._io import atomic_path

    target = os.path.join(out, part_name(index))
    table = pq.read_table(target)
    meta = json.loads(table.schema.metadata[META_KEY])
    col = "filename" if "filename" in table.column_names else "path"
    keep = pc.invert(pc.is_in(table[col], value_set=pa.array(sorted(paths))))
    table = table.filter(keep)
    meta["inputs"] = [i for i in meta["inputs"] if i[0] not in paths]
    meta["rows"] = table.num_rows
    schema_meta = dict(table.schema.metadata)
    schema_meta[META_KEY] = json.dumps(meta).encode()
    with atomic_path(target) as tmp:
        pq.write_table(table.replace_schema_metadata(schema_meta), tmp)


def reconcile(out, inputs):
    """Match the current inputs with the committed parts.

    Returns ``(done, changed, gone, parts)``: the keys already committed with the same
    fingerprint, the paths that changed since (their rows are removed from their part, so that
    they are done again), the committed keys no longer among the inputs (their rows stay), and
    the part metadata.

    Raises
    ------
    DatasetError
        A part file is damaged, or two parts hold the same input.
    """
    parts = committed_parts(out)
    now = {input_key(r.path, r.start_s, r.end_s): (r.size, r.mtime_ns, r.hash)
           for r in inputs.itertuples(index=False)}
    done, owner, changed_parts = {}, {}, {}
    for index, meta in parts.items():
        if meta.get("damaged"):
            raise DatasetError(f"{os.path.join(out, part_name(index))}: a part file without "
                               "its earmark metadata (damaged, or not written by earmark "
                               "batch); delete it, or rerun with --restart")
        for item in meta["inputs"]:
            key = input_key(*item[:3])
            if key in owner:
                raise DatasetError(f"{out}: {key[0]} is in both {part_name(owner[key])} and "
                                   f"{part_name(index)}; rerun with --restart")
            owner[key] = index
            fp = now.get(key)
            if fp is not None and (fp[0] != item[3] or fp[2] != item[5]):
                changed_parts.setdefault(index, set()).add(key[0])
            done[key] = index
    changed = set()
    for index, paths in changed_parts.items():
        _drop_rows(out, index, paths)
        changed |= paths
    done = {k: i for k, i in done.items() if k[0] not in changed}
    gone = [k for k in done if k not in now]
    if changed:
        parts = committed_parts(out)
    return done, sorted(changed), gone, parts


# -- planning ------------------------------------------------------------------------------
class Partition:
    """One task: consecutive inputs holding about ``partition_s`` seconds of audio."""

    __slots__ = ("index", "items", "audio_s")

    def __init__(self, index, items, audio_s):
        self.index, self.items, self.audio_s = index, items, audio_s

    def __repr__(self):
        return f"Partition({self.index}, {len(self.items)} inputs, {self.audio_s:.1f} s)"


def plan_partitions(pending, *, partition_s, first_index=0, max_inputs=2000):
    """Cut the pending inputs (in order) into partitions of about ``partition_s`` s of audio.

    An input is never split: a file longer than ``partition_s`` is a partition of its own (and
    is still read in blocks). A file whose duration is unknown (it cannot be read) counts as one
    second: it only costs its error row. ``max_inputs`` bounds a partition of tiny files.

    Examples
    --------
    >>> t = pd.DataFrame({"path": list("abcd"), "start_s": None, "end_s": None,
    ...                   "duration_s": [40.0, 30.0, 50.0, 200.0]})
    >>> [p.audio_s for p in plan_partitions(t, partition_s=60)]
    [40.0, 30.0, 50.0, 200.0]
    >>> plan_partitions(t, partition_s=100)[:2]
    [Partition(0, 2 inputs, 70.0 s), Partition(1, 1 inputs, 50.0 s)]
    """
    if not partition_s > 0:
        raise ParameterError(f"The 'partition_s' parameter of plan_partitions must be a float "
                             f"in (0, inf). Got {partition_s!r} instead.")
    parts, items, total = [], [], 0.0
    index = first_index
    for r in pending.itertuples(index=False):
        d = float(r.duration_s) if r.duration_s and r.duration_s > 0 else 1.0
        if items and (total + d > partition_s or len(items) >= max_inputs):
            parts.append(Partition(index, items, total))
            index, items, total = index + 1, [], 0.0
        items.append(input_key(r.path, r.start_s, r.end_s))
        total += d
    if items:
        parts.append(Partition(index, items, total))
    return parts


def auto_partition_s(total_s, n_threads):
    """The default partition: ~8 tasks per worker thread (so the last ones balance), between 30
    seconds (Dask's per-task overhead stays below 1%) and 10 minutes of audio."""
    return float(np.clip(total_s / max(1, 8 * n_threads), 30.0, 600.0))


def write_failed(out, failed):
    """``_earmark/failed.json``: the partitions that failed after their retries, this run."""
    write_json({"written": _now(), "partitions": failed}, state_path(out, "failed.json"))


def read_failed(out):
    path = state_path(out, "failed.json")
    try:
        return read_json(path).get("partitions", [])
    except (OSError, ValueError):
        return []
