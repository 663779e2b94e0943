"""Embeddings of files: one row per analysis window, written as Parquet, CSV or NPZ.

The files are read the way prediction reads them (:func:`earmark.predict.score_source`: in
blocks, cut into the embedder's natural windows as they stream), so a long recording never sits
in memory whole; the "scores" are the embeddings.

    earmark embed recordings/ --model yamnet --out embeddings.parquet
"""

import json

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ._io import atomic_path
from .data.sources import expand_sources
from .errors import EarmarkError, ParameterError

__all__ = ["embed_sources", "write_embeddings", "FORMATS"]

#: Output suffixes :func:`write_embeddings` knows.
FORMATS = (".parquet", ".csv", ".npz")


class _EmbedderAsScorer:
    # score_source wants .features and .score_windows: an embedder's "scores" are its embeddings
    def __init__(self, embedder):
        from .models.embedded import embedder_features

        self.embedder = embedder
        self.features = embedder_features(embedder)

    def score_windows(self, windows):
        return self.embedder.embed(windows)


def embed_sources(sources, *, model="yamnet", progress=True):
    """Embed every analysis window of files, folders or CSV lists.

    Parameters
    ----------
    sources : path-like or list
        Audio files, folders (searched recursively) and CSV lists (a ``path`` column, optional
        ``start``/``end`` seconds), as for prediction.
    model : str or Embedder
        A name :func:`~earmark.models.embeddings.get_embedder` accepts ('yamnet', 'birdnet',
        'efficientnet', 'classic', 'onnx:PATH'), or an embedder.
    progress : bool
        Show a progress bar over files.

    Returns
    -------
    table : pandas.DataFrame
        Columns path, start_s, end_s (seconds from the start of the file) and embedding (one
        float32 array per row); ``table.attrs["embedder"]`` holds the embedder's settings.
    errors : list of (path, message)
        Files that could not be read; the others are embedded all the same.

    Raises
    ------
    ModelNotInstalledError
        The pretrained model is not installed (the message names the install command).

    Examples
    --------
    >>> table, errors = embed_sources(["kick.wav"], model="classic")    # doctest: +SKIP
    >>> table.columns.tolist()                                          # doctest: +SKIP
    ['path', 'start_s', 'end_s', 'embedding']
    """
    from .models.embeddings import get_embedder
    from .predict import score_source

    embedder = get_embedder(model) if isinstance(model, str) else model
    scorer = _EmbedderAsScorer(embedder)
    window_s = scorer.features.window_s
    paths, starts, embeddings, errors = [], [], [], []
    for src in tqdm(expand_sources(sources), desc=f"embedding ({embedder.name})", unit="file",
                    disable=not progress):
        try:
            st, emb = score_source(scorer, src)
        except (EarmarkError, OSError) as exc:
            errors.append((src.path, str(exc)))
            continue
        paths.extend([src.path] * len(st))
        starts.append(np.round(st, 6))
        embeddings.append(np.asarray(emb, np.float32))
    start = np.concatenate(starts) if starts else np.zeros(0)
    emb = np.concatenate(embeddings) if embeddings else np.zeros((0, embedder.dim), np.float32)
    table = pd.DataFrame({"path": paths, "start_s": start,
                          "end_s": np.round(start + window_s, 6),
                          "embedding": list(emb)})
    table.attrs["embedder"] = json.loads(json.dumps(embedder.settings(), default=str))
    return table, errors


def write_embeddings(table, path):
    """Write an :func:`embed_sources` table atomically; the suffix picks the format.

    - ``.parquet``: the columns as they are, ``embedding`` a list<float> column; the embedder's
      settings in the file's metadata (key ``earmark.embedder``). Needs pyarrow.
    - ``.csv``: path, start_s, end_s and one column per dimension, ``e0`` ... ``e{dim-1}``.
    - ``.npz``: arrays ``path``, ``start_s``, ``end_s``, ``embeddings`` (n, dim) float32 and
      ``embedder`` (the settings as JSON text); read with ``np.load(path)``, no pickle.

    Examples
    --------
    >>> write_embeddings(table, "embeddings.parquet")   # doctest: +SKIP
    """
    suffix = "." + str(path).lower().rsplit(".", 1)[-1] if "." in str(path) else ""
    if suffix not in FORMATS:
        raise ParameterError(f"{path}: embeddings are written as "
                             f"{', '.join(FORMATS)}; the file name must end with one of them.")
    settings = json.dumps(table.attrs.get("embedder", {}))
    dim = len(table["embedding"].iloc[0]) if len(table) else 0
    emb = (np.stack(table["embedding"].to_list()).astype(np.float32) if len(table)
           else np.zeros((0, dim), np.float32))
    with atomic_path(path) as tmp:
        if suffix == ".parquet":
            try:
                import pyarrow as pa
                import pyarrow.parquet as pq
            except ImportError:
                raise ParameterError(f"{path}: writing Parquet needs pyarrow (pip install "
                                     "pyarrow); or write .csv or .npz") from None
            t = pa.Table.from_pandas(table.assign(embedding=list(emb)), preserve_index=False)
            meta = dict(t.schema.metadata or {})
            meta[b"earmark.embedder"] = settings.encode()
            pq.write_table(t.replace_schema_metadata(meta), tmp)
        elif suffix == ".csv":
            wide = pd.DataFrame(emb, columns=[f"e{i}" for i in range(emb.shape[1])])
            out = pd.concat([table[["path", "start_s", "end_s"]].reset_index(drop=True), wide],
                            axis=1)
            out.to_csv(tmp, index=False, float_format="%.7g")
        else:
            with open(tmp, "wb") as f:
                np.savez(f, path=np.array(table["path"].tolist(), dtype=str),
                         start_s=table["start_s"].to_numpy(np.float64),
                         end_s=table["end_s"].to_numpy(np.float64), embeddings=emb,
                         embedder=np.array(settings))
    return path
