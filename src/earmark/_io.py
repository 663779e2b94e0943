"""Outputs: checked before the work starts, then written whole or not at all.

:func:`check_output_path` is what every command that writes calls first, so a path that cannot be
written is refused before a long run instead of after it. :func:`atomic_path` writes through a
temporary file beside the output that replaces it in one step: an existing output survives any
failure (Ctrl-C, SIGKILL, a full disk), a replaced output keeps its permissions, and the
temporary file a killed run leaves behind is removed by the next write of the same output.
"""

import contextlib
import json
import os
import re
import stat
import tempfile
import time

import numpy as np

from ._validation import check_choice
from .errors import ParameterError

try:                      # POSIX: a live writer holds a lock on its temporary file
    import fcntl
except ImportError:       # pragma: no cover - Windows: stale temporary files are left alone
    fcntl = None

__all__ = ["atomic_path", "check_output_path", "check_outputs", "remove_stale_temporaries",
           "write_bytes_atomic", "json_default", "write_json"]

#: Ending of the temporary files :func:`atomic_path` writes (``.NAME.XXXXXXXX.earmark.tmp``).
TEMP_SUFFIX = ".earmark.tmp"
# a temporary file younger than this is never taken for a dead run's, whatever its lock says:
# it covers the moment between creating the file and locking it
_STALE_AFTER_S = 2.0
# room for mkstemp's 8 random characters and the suffix within a 255-byte file name
_NAME_CHARS = 200


def _temp_prefix(path):
    return f".{os.path.basename(path)[:_NAME_CHARS]}."


def _stale_name(path):
    """A regular expression matching the names of ``path``'s temporary files (and no other)."""
    return re.compile(re.escape(_temp_prefix(path)) + r"[a-z0-9_]{8}" + re.escape(TEMP_SUFFIX)
                      + r"\Z")


def _target(path):
    """Where writing ``path`` lands: through a symbolic link, its target (the link is kept)."""
    path = os.path.abspath(os.fspath(path))
    return os.path.realpath(path) if os.path.islink(path) else path


def remove_stale_temporaries(path):
    """Remove the temporary files that runs killed while writing ``path`` left beside it.

    A temporary file is a dead run's when no process holds its lock (a live writer holds it
    until its file replaces ``path``) and it is more than 2 seconds old, so a concurrent run
    writing the same output is never disturbed. Returns the paths removed (none without
    ``fcntl``, on Windows).

    Examples
    --------
    >>> remove_stale_temporaries("predictions.csv")     # doctest: +SKIP
    ['/data/.predictions.csv.k2j4x_0a.earmark.tmp']
    """
    if fcntl is None:
        return []
    target = _target(path)
    folder = os.path.dirname(target)
    pattern = _stale_name(target)
    try:
        names = [n for n in os.listdir(folder) if pattern.match(n)]
    except OSError:
        return []
    removed = []
    for name in names:
        tmp = os.path.join(folder, name)
        try:
            fd = os.open(tmp, os.O_RDONLY)
        except OSError:
            continue
        try:
            if time.time() - os.fstat(fd).st_mtime < _STALE_AFTER_S:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue                    # locked: a run is writing it now
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
                removed.append(tmp)
        finally:
            os.close(fd)
    return removed


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one step.

    On any error (or Ctrl-C) the temporary file is removed and an existing ``path`` is untouched;
    after a SIGKILL it stays, and the next write of ``path`` removes it. A replaced ``path``
    keeps its permission bits (a new one gets the usual ``0o666 & ~umask``); through a symbolic
    link, the link's target is replaced and the link kept.

    Examples
    --------
    >>> with atomic_path("predictions.csv") as tmp:     # doctest: +SKIP
    ...     table.to_csv(tmp)
    """
    path = _target(path)
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=TEMP_SUFFIX, dir=folder)
    try:
        if fcntl is not None:
            # held until the end: tells a later run that this temporary file is not a dead one's
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield tmp
        os.chmod(tmp, _mode_for(path))     # mkstemp makes 0600
        os.replace(tmp, path)
    except OSError as exc:
        if exc.filename == tmp:            # a full disk, say: the message names the output
            exc.filename, exc.filename2 = path, None
        raise
    finally:
        os.close(fd)
        if os.path.exists(tmp):
            os.unlink(tmp)


def _mode_for(path):
    """The permission bits an output written to ``path`` gets: the old file's, or the default."""
    try:
        st = os.stat(path)
    except OSError:
        st = None
    if st is not None and stat.S_ISREG(st.st_mode):
        return stat.S_IMODE(st.st_mode)
    return 0o666 & ~_umask()


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_output_path(path, *, inputs=(), kind="file", owner, suffixes=None):
    """Check that ``path`` can be written as an output, before any work is done.

    Parameters
    ----------
    path : str or path-like
        The output: a file, or with ``kind="folder"`` a folder (created if missing).
    inputs : iterable
        What the command reads: paths, or ``(path, what)`` pairs where ``what`` names the input
        in the message (e.g. ``"the model file"``). The output may be none of them.
    kind : {"file", "folder"}
    owner : str
        What the output is in the user's words, named in the message (``"--out"``, ``"--json"``).
    suffixes : tuple of str or None
        Endings the file name must have (e.g. ``(".csv", ".parquet")``), case-insensitive.

    Returns
    -------
    str
        ``path``.

    Raises
    ------
    ParameterError
        ``"<path>: cannot write <owner>: <problem>"``: the path is empty, its folder does not
        exist or sits under a file, the folder (or an existing read-only output) cannot be
        written ("permission denied"), a file output is an existing folder or not a regular
        file, a folder output is a file, the name has the wrong ending, or it is one of
        ``inputs``.

    Examples
    --------
    >>> check_output_path("predictions.csv", inputs=[("drums.earmark", "the model file")],
    ...                   owner="--out")
    'predictions.csv'
    >>> check_output_path("drums.earmark", inputs=[("drums.earmark", "the model file")],
    ...                   owner="--out")                            # doctest: +SKIP
    Traceback (most recent call last):
    earmark.errors.ParameterError: drums.earmark: cannot write --out: it is the model file
    (drums.earmark); choose another name
    """
    check_choice(kind, "kind", "check_output_path", ("file", "folder"))
    shown = os.fspath(path)

    def refuse(problem):
        raise ParameterError(f"{shown}: cannot write {owner}: {problem}")

    if not shown.strip():
        refuse("the path is empty")
    full = _target(shown)
    st = _stat(full, refuse)
    if kind == "file":
        if st is not None and stat.S_ISDIR(st.st_mode):
            refuse("it is a folder; give a file name inside it, e.g. "
                   f"{os.path.join(shown, 'output' + (suffixes[0] if suffixes else '.csv'))}")
        if st is not None and not stat.S_ISREG(st.st_mode):
            refuse("it is not a regular file (outputs are written to a temporary file that then "
                   "replaces it)")
        if suffixes and not shown.lower().endswith(tuple(s.lower() for s in suffixes)):
            refuse(f"the file name must end with {' or '.join(suffixes)}")
    elif st is not None and not stat.S_ISDIR(st.st_mode):
        refuse("it is a file, not a folder")
    if st is not None and not os.access(full, os.W_OK | (os.X_OK if kind == "folder" else 0)):
        refuse("permission denied (it is read-only)")
    # the folder the output goes into (for a new folder output: the folder it is created in)
    folder = os.path.dirname(full) if kind == "file" or st is None else full
    up = folder
    while _stat(up, refuse) is None:
        up = os.path.dirname(up)
    if not os.path.isdir(up):
        refuse(f"{up} is a file, not a folder")
    if up != folder:
        refuse(f"the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        refuse(f"permission denied: cannot create files in the folder {folder}")
    _probe(folder, full, refuse)
    for item in inputs:
        inp, what = item if isinstance(item, tuple) else (item, None)
        if inp is None:
            continue
        if _same_file(full, st, os.fspath(inp)):
            refuse(f"it is {what or 'an input of this command'} ({os.fspath(inp)}); choose "
                   "another name")
    return shown


def check_outputs(outputs, *, inputs=()):
    """:func:`check_output_path` for each of a command's file outputs, none the same as another.

    Parameters
    ----------
    outputs : dict
        Owner -> path (None: not asked for), e.g. ``{"--json": "cv.json", "--report": None}``.
    inputs : iterable
        What the command reads, as for :func:`check_output_path`.

    Examples
    --------
    >>> check_outputs({"--json": "cv.json", "--report": "cv.json"})   # doctest: +SKIP
    Traceback (most recent call last):
    earmark.errors.ParameterError: cv.json: cannot write --report: it is also --json (cv.json); ...
    """
    given = [(owner, path) for owner, path in outputs.items() if path is not None]
    inputs = list(inputs)
    for k, (owner, path) in enumerate(given):
        earlier = [(p, f"also {o}") for o, p in given[:k]]
        check_output_path(path, inputs=inputs + earlier, owner=owner)


def _probe(folder, full, refuse):
    """Create and remove a temporary file in ``folder``, as writing the output will: the only
    sure test (``os.access`` says yes to root on a read-only mount point or in /proc)."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(full), suffix=TEMP_SUFFIX, dir=folder)
    except OSError as exc:
        refuse(f"cannot create files in the folder {folder} "
               f"({(exc.strerror or str(exc)).lower()})")
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(tmp)


def _stat(path, refuse):
    """``os.stat`` of ``path``, None when it does not exist (or lies under a file)."""
    try:
        return os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except PermissionError:
        refuse(f"permission denied: cannot look inside the folder {os.path.dirname(path)}")
    except OSError as exc:
        refuse(f"{(exc.strerror or str(exc)).lower()}")


def _same_file(full, st, inp):
    """Whether the output at ``full`` (``st``: its stat, None when missing) is the input ``inp``."""
    if st is None:
        # a missing output can only be an input that is missing too, under the same name
        return os.path.abspath(inp) == full or _target(inp) == full
    try:
        other = os.stat(inp)
    except OSError:
        return False
    return (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino)


def write_bytes_atomic(path, data):
    """Write ``data`` (bytes) to ``path`` atomically; returns ``path``."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
    return os.fspath(path)


def json_default(o):
    """``json.dumps(default=...)`` for NumPy scalars and arrays."""
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_json(obj, path):
    """Write ``obj`` as indented JSON, atomically (NumPy values become plain JSON)."""
    return write_bytes_atomic(path, json.dumps(obj, indent=1, default=json_default).encode())
