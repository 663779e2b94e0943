"""Work folders that are renamed into place only when complete, so nothing half-built is reused.

A work folder is named ``<prefix><pid>-<random>`` beside its target; folders of processes that
no longer run are removed the next time one is made there.
"""

import os
import re
import shutil
import tempfile
from pathlib import Path

__all__ = ["work_dir", "publish"]


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _remove_abandoned(folder, prefix):
    """Remove ``<prefix><pid>-*`` work folders left behind by processes that no longer run."""
    if not folder.is_dir():
        return
    for p in folder.glob(f"{prefix}*"):
        m = re.match(re.escape(prefix) + r"(\d+)-", p.name)
        if m and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1))):
            shutil.rmtree(p, ignore_errors=True)


def work_dir(parent, prefix):
    """A new, empty ``<parent>/<prefix><pid>-*`` folder (``parent`` is created if needed)."""
    parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(parent, prefix)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent))


def publish(work, root):
    """Swap the finished ``work`` folder in for whatever was at ``root`` (an older or empty
    build)."""
    old = None
    if root.exists():
        old = root.with_name(f".{root.name}.old-{os.getpid()}-{os.urandom(4).hex()}")
        os.replace(root, old)
    os.replace(work, root)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
