"""Batch jobs over whole archives on a Dask cluster, resumable (the ``batch`` extra).

    earmark batch predict model.earmark /archive/ --out results/ [--workers 4 | --scheduler ...]
    earmark batch detect  calls.earmark /archive/ --out events/
    earmark batch embed   --model yamnet /archive/ --out embeddings/
    earmark batch status results/

Each job runs the same Python API as the single-process command (``earmark predict``, ``detect``,
``embed``) on partitions of the inputs sized by audio duration, one Dask task each, and commits
each finished partition as one Parquet file; a rerun skips what is committed. See docs/batch.md.

Python API
----------
run_batch       run a job (a LocalCluster, or an existing scheduler) into an output folder
job_status      done / failed / to do, throughput and time left of an output folder
format_status   the text ``earmark batch status`` prints
read_results    the output folder's rows as one DataFrame
BatchResult     what a run did

Modules: :mod:`.job` (manifest, fingerprints, partitions, commit and resume), :mod:`.run` (the
Dask driver), :mod:`.worker` (per-worker model and one partition), :mod:`.tables` (the rows of a
partition), :mod:`.status`.
"""

from .run import BatchResult, run_batch
from .status import format_status, job_status

__all__ = ["run_batch", "BatchResult", "job_status", "format_status", "read_results"]


def read_results(out, *, columns=None):
    """Every row of a batch output folder as one pandas DataFrame (the committed parts).

    Examples
    --------
    >>> table = read_results("results/")                  # doctest: +SKIP
    >>> table.sort_values("path").head()                  # doctest: +SKIP
    """
    import glob
    import os

    import pandas as pd

    files = sorted(glob.glob(os.path.join(os.fspath(out), "part-*.parquet")))
    if not files:
        return pd.DataFrame()
    return pd.concat([pd.read_parquet(f, columns=columns) for f in files], ignore_index=True)
