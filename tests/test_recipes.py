"""Embedding recipes end to end: training, held-out accuracy, the model file, CV and the CLI.

The recipes train on the 'classic' embedder (MFCC / log-mel statistics: no model file to install)
on generated classes. Every test runs with EARMARK_HOME set to an empty temporary folder, so no
installed model and no cache outside the test is used; BirdNET runs for real only where it is
installed (its licence path is also checked with a stand-in embedder that carries its licence).
"""

import hashlib
import importlib
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

import earmark
from earmark.audio import load
from earmark.bundle import read_bundle, write_bundle
from earmark.cli import main
from earmark.errors import ModelFileError, ParameterError
from earmark.models.embedded import EmbeddingWindowModel, parse_recipe
from earmark.models.embeddings import MODELS, ModelNotInstalledError, installed_models
from earmark.models.embeddings.classic import ClassicEmbedder
from earmark.windows import window_starts

from _signals import FAST, SR, make_clip, write_dataset

RECIPE = "embed:classic+logreg"
REAL_HOME = Path(os.environ.get("EARMARK_HOME") or Path.home() / ".cache" / "earmark")
RECIPE_MESSAGE = ("The 'recipe' parameter of SoundClassifier must be 'cnn', "
                  "'transfer:efficientnet' or "
                  "'embed:<embedder>+<head>' with embedder in {'yamnet', 'birdnet', "
                  "'efficientnet', 'classic', 'onnx:PATH'} and head in {'logreg', 'svm', 'rf', "
                  "'mlp'}. Got ")


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """An empty EARMARK_HOME for the whole module (no installed models, a private cache)."""
    folder = tmp_path_factory.mktemp("earmark_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EARMARK_HOME", str(folder))
        yield folder


@pytest.fixture(scope="module")
def data(home, tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("recipes"), per_class=16, seed=0)


@pytest.fixture(scope="module")
def trained(data):
    return earmark.SoundClassifier(recipe=RECIPE, progress=False).fit(data)


def held_out(folder, *, per_class=8, seed=123):
    rng = np.random.default_rng(seed)
    paths, truth = [], []
    folder.mkdir(exist_ok=True)
    for kind in ("low", "high", "noise"):
        for i in range(per_class):
            p = folder / f"{kind}{i}.wav"
            sf.write(p, make_clip(kind, rng), SR)
            paths.append(str(p))
            truth.append(kind)
    return paths, np.array(truth)


# ----------------------------------------------------------------------------- training ---

def test_held_out_accuracy_above_90_percent(trained, tmp_path):
    paths, truth = held_out(tmp_path)
    assert np.mean(trained.predict(paths) == truth) > 0.9
    proba = trained.predict_proba(paths)
    assert proba.shape == (24, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)


def test_fit_uses_the_embedders_windows_and_records_the_head(trained):
    assert trained.classes_ == ["high", "low", "noise"]
    assert trained.history_ == []
    assert isinstance(trained.model_, EmbeddingWindowModel)
    fc = trained.features_
    assert (fc.sample_rate, fc.window_s, fc.hop_s) == (22050, 1.0, 0.5)
    info = trained.train_info_
    # clips of 0.6-1.2 s give one or two 1 s windows each
    assert 48 <= info["n_train_windows"] <= 96 and info["n_train_windows"] > 48
    assert info["head"]["kind"] == "logreg" and "clf__C" in info["head"]["best_params"]
    assert info["group_column"] == "group"
    assert trained.licence_ == ClassicEmbedder.licence


def test_window_scores_are_the_head_on_the_embeddings(trained, tmp_path):
    sf.write(tmp_path / "high.wav", make_clip("high", np.random.default_rng(5), dur=2.0), SR)
    y, _ = load(tmp_path / "high.wav", sample_rate=22050)       # as the training clips were
    windows = np.stack([y[s:s + 22050] for s in window_starts(len(y), 22050, 11025)])
    scores = trained.score_windows(windows)
    emb = ClassicEmbedder().embed(windows)
    expected = trained.model_.head_.predict_proba(emb)
    np.testing.assert_allclose(scores, expected, rtol=1e-6)
    assert scores.shape == (3, 3) and (scores.argmax(axis=1) == 0).all()     # 'high'


def test_embeddings_are_cached_and_reused(trained, data, home):
    entries = list((home / "cache" / "embeddings").glob("*/*.npy"))
    assert len(entries) >= 48            # one per training clip (and per clip scored in CV)
    again = earmark.SoundClassifier(recipe=RECIPE, progress=False).fit(data)
    assert again.train_info_["embedding_cache"] == {"clips_reused": 48, "clips_embedded": 0}
    paths = [str(p) for p in sorted(Path(data).rglob("*.wav"))[::7]]
    np.testing.assert_array_equal(again.predict_proba(paths), trained.predict_proba(paths))


def test_cross_validate_takes_the_recipe(data):
    r = earmark.cross_validate(data, folds="fold", recipe=RECIPE, progress=False)
    assert r["config"]["estimator"]["recipe"] == RECIPE
    assert len(r["folds"]) == 4 and all(f["history"] == [] for f in r["folds"])
    assert r["balanced_accuracy"] > 0.9
    assert r["config"]["features"]["sample_rate"] == 22050
    assert r["config"]["training"] is None and r["config"]["augmentation"] is None


# ----------------------------------------------------------------------------- model file ---

def test_save_load_gives_identical_probabilities(trained, tmp_path):
    path = trained.save(tmp_path / "m.earmark")
    meta, arrays = read_bundle(path)
    assert meta["model"]["family"] == "embedding"
    assert meta["model"]["embedder"] == "classic"
    assert meta["model"]["embedder_settings"]["dim"] == 208
    assert meta["params"]["recipe"] == RECIPE
    assert meta["licence"] == ClassicEmbedder.licence
    assert meta["training"]["config"] is None
    assert all(k.startswith("head.") for k in arrays)
    with zipfile.ZipFile(path) as z:       # weights are .npy arrays and JSON, nothing else
        assert all(n == "earmark.json" or n.endswith(".npy") for n in z.namelist())
    loaded = earmark.load(path)
    assert isinstance(loaded.model_, EmbeddingWindowModel)
    assert loaded.recipe == RECIPE and loaded.licence_ == trained.licence_
    paths, _ = held_out(tmp_path / "x", per_class=3)
    np.testing.assert_array_equal(loaded.predict_proba(paths), trained.predict_proba(paths))
    assert loaded.predict_table(paths, windows=True)["end_s"].max() >= 1.0


def _rewrite(src, dst, change):
    meta, arrays = read_bundle(src)
    change(meta)
    for k in ("format", "format_version", "saved_at", "versions", "arrays"):
        meta.pop(k)
    return write_bundle(dst, meta=meta, arrays=arrays)


def test_family_dispatch_and_embedder_checks(trained, tmp_path):
    src = trained.save(tmp_path / "m.earmark")

    def family(m):
        m["model"]["family"] = "quantum"
    with pytest.raises(ModelFileError, match="model family 'quantum' is not known"):
        earmark.load(_rewrite(src, tmp_path / "a.earmark", family))

    def other_dim(m):
        m["model"]["embedder_settings"]["dim"] = 999
    with pytest.raises(ModelFileError, match="dim=999"):
        earmark.load(_rewrite(src, tmp_path / "b.earmark", other_dim))

    def on_yamnet(m):
        m["model"]["embedder"] = "yamnet"
    with pytest.raises(ModelNotInstalledError, match="earmark models install yamnet"):
        earmark.load(_rewrite(src, tmp_path / "c.earmark", on_yamnet))


def test_cnn_model_files_keep_their_layout(data, tmp_path):
    clf = earmark.SoundClassifier(**{**FAST, "epochs": 1}).fit(data)
    assert clf.get_params()["recipe"] == "cnn" and clf.licence_ is None
    meta, _ = read_bundle(clf.save(tmp_path / "c.earmark"))
    assert meta["model"]["family"] == "neural"
    assert "recipe" not in meta["params"] and "licence" not in meta
    assert earmark.load(tmp_path / "c.earmark").recipe == "cnn"


# ----------------------------------------------------------------------------- licences ---

class _CarriesBirdnetLicence(ClassicEmbedder):
    """Stand-in with BirdNET's name and licence (the model file is not needed to test where
    the licence goes)."""

    name = "birdnet"
    licence = MODELS["birdnet"].licence

    def __init__(self, **kwargs):
        super().__init__(sample_rate=16000, window_s=3.0, hop_s=1.5)


def _check_birdnet_licence(clf, tmp_path):
    assert "CC BY-NC-SA 4.0" in clf.licence_ and "non-commercial" in clf.licence_
    meta, _ = read_bundle(clf.save(tmp_path / "b.earmark"))
    for licence in (meta["licence"], meta["model"]["licence"]):
        assert "CC BY-NC-SA 4.0" in licence and "non-commercial" in licence
    assert earmark.load(tmp_path / "b.earmark").licence_ == clf.licence_


def test_birdnet_licence_is_stored_in_the_model(data, tmp_path, monkeypatch):
    import earmark.models.embedded as embedded
    import earmark.models.embeddings as embeddings

    real = embeddings.get_embedder

    def get(name, **kwargs):
        return _CarriesBirdnetLicence() if name == "birdnet" else real(name, **kwargs)
    monkeypatch.setattr(embeddings, "get_embedder", get)
    monkeypatch.setattr(embedded, "get_embedder", get)
    clf = earmark.SoundClassifier(recipe="embed:birdnet+logreg", progress=False).fit(data)
    assert clf.features_.window_s == 3.0
    _check_birdnet_licence(clf, tmp_path)


@pytest.mark.skipif("birdnet" not in installed_models(REAL_HOME),
                    reason="BirdNET is not installed (earmark models install birdnet)")
def test_real_birdnet_licence_is_stored_in_the_model(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    (home / "models").symlink_to(REAL_HOME / "models")
    monkeypatch.setenv("EARMARK_HOME", str(home))
    small = write_dataset(tmp_path / "small", per_class=4, seed=3)
    clf = earmark.SoundClassifier(recipe="embed:birdnet+logreg", progress=False).fit(small)
    assert clf.features_.sample_rate == 48000
    _check_birdnet_licence(clf, tmp_path)


# ----------------------------------------------------------------------------- parameters ---

@pytest.mark.parametrize("recipe, parts", [
    ("cnn", None), ("embed:yamnet+logreg", ("yamnet", "logreg")),
    ("embed:classic+mlp", ("classic", "mlp")),
    ("embed:onnx:my+model.onnx+rf", ("onnx:my+model.onnx", "rf"))])
def test_parse_recipe(recipe, parts):
    assert parse_recipe(recipe) == parts


@pytest.mark.parametrize("recipe", ["embed:yamnet", "embed:+logreg", "embed:yamnet+knn",
                                    "embed:yam+logreg", "embed:onnx:+svm", "sbcnn", "",
                                    None, 3, "transfer:resnet", "transfer:"])
def test_bad_recipes_are_refused_with_one_message(recipe, tmp_path):
    with pytest.raises(ParameterError) as e:
        earmark.SoundClassifier(recipe=recipe).fit(tmp_path)
    assert str(e.value) == RECIPE_MESSAGE + f"{recipe!r} instead."


def test_features_cannot_be_set_with_an_embedding_recipe(home, tmp_path):
    with pytest.raises(ParameterError, match="must be None with recipe='embed:classic"):
        earmark.SoundClassifier(recipe=RECIPE, features={"window_s": 0.5}).fit(tmp_path)


def test_missing_model_names_the_install_command(data):
    with pytest.raises(ModelNotInstalledError, match="earmark models install yamnet"):
        earmark.SoundClassifier(recipe="embed:yamnet+logreg").fit(data)


# ----------------------------------------------------------------------------- CLI ---

def cli(capsys, *args):
    rc = main([str(a) for a in args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def _wheel(folder, data=b"weights" * 10):
    path = Path(folder) / "dummypkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("dummypkg/model.bin", data)
        zf.writestr("dummypkg-1.0.dist-info/METADATA", "Name: dummypkg\nVersion: 1.0\n")
    return path, hashlib.sha256(path.read_bytes()).hexdigest(), hashlib.sha256(data).hexdigest()


def test_cli_models_install_and_list(home, tmp_path, capsys, monkeypatch):
    # the package exports the function install(), which hides the module of the same name
    inst = importlib.import_module("earmark.models.embeddings.install")

    rc, out, _ = cli(capsys, "models", "list")
    assert rc == 0
    assert "yamnet        not installed (earmark models install yamnet)" in out
    assert "CC BY-NC-SA 4.0" in out and "classic" in out

    wheel, wheel_sha, member_sha = _wheel(tmp_path)

    def convert(extracted, out_dir):
        (Path(out_dir) / "m.bin").write_bytes(Path(extracted["model"]).read_bytes())
        return {"model": "m.bin"}
    monkeypatch.setitem(inst.MODELS, "dummy", inst.ModelSpec(
        name="dummy", package="dummypkg", version="1.0", wheel_sha256=wheel_sha,
        members={"model": ("dummypkg/model.bin", member_sha)}, convert=convert,
        licence="TEST-LICENCE-2.0"))
    try:
        rc, out, err = cli(capsys, "models", "install", "dummy", "--wheel", wheel)
        assert rc == 0
        assert f"installed dummy into {home / 'models' / 'dummy'}" in out
        assert "dummypkg==1.0 from local wheel file" in out and wheel_sha in out
        assert "licence: TEST-LICENCE-2.0" in out
        assert "installing dummy from" in err
        rc, out, _ = cli(capsys, "models", "list")
        assert "dummy         installed into" in out and "licence: TEST-LICENCE-2.0" in out
    finally:
        import shutil
        shutil.rmtree(home / "models", ignore_errors=True)

    rc, _, err = cli(capsys, "models", "install", "yamnet", "--wheel", tmp_path / "none.whl")
    assert rc == 2 and "wheel file not found" in err


def test_cli_embed_writes_one_row_per_window(home, tmp_path, capsys):
    rng = np.random.default_rng(2)
    long_path, short_path = tmp_path / "long.wav", tmp_path / "short.wav"
    sf.write(long_path, make_clip("low", rng, dur=2.3), SR)
    sf.write(short_path, make_clip("high", rng, dur=0.4), SR)
    (tmp_path / "broken.wav").write_bytes(b"not audio")
    n_long = len(window_starts(int(round(2.3 * 22050)), 22050, 11025))     # 0, .5, 1, 1.3 s

    tables = {}
    for suffix in ("parquet", "csv", "npz"):
        out = tmp_path / f"emb.{suffix}"
        rc, stdout, err = cli(capsys, "embed", long_path, short_path, tmp_path / "broken.wav",
                              "--model", "classic", "--out", out, "-q")
        assert rc == 0 and f"{n_long + 1} windows of 2 files, 208 numbers each" in stdout
        assert "1 files failed" in stdout and "broken.wav" in err
        tables[suffix] = out

    t = pd.read_parquet(tables["parquet"])
    assert list(t.columns) == ["path", "start_s", "end_s", "embedding"]
    assert t["path"].tolist() == [str(long_path)] * n_long + [str(short_path)]
    np.testing.assert_allclose(t["start_s"], [0.0, 0.5, 1.0, 1.3, 0.0], atol=1e-4)
    np.testing.assert_allclose(t["end_s"] - t["start_s"], 1.0)
    emb = np.stack(t["embedding"].to_list())
    assert emb.shape == (n_long + 1, 208)
    import pyarrow.parquet as pq
    settings = json.loads(pq.read_schema(tables["parquet"]).metadata[b"earmark.embedder"])
    assert settings["name"] == "classic"

    c = pd.read_csv(tables["csv"])
    assert list(c.columns[:4]) == ["path", "start_s", "end_s", "e0"] and c.shape[1] == 3 + 208
    np.testing.assert_allclose(c.iloc[:, 3:].to_numpy(), emb, rtol=1e-6, atol=1e-5)

    with np.load(tables["npz"], allow_pickle=False) as z:
        np.testing.assert_array_equal(z["embeddings"], emb)
        assert json.loads(str(z["embedder"]))["dim"] == 208

    # the same windows through the embedder directly
    y, _ = load(long_path, sample_rate=22050)
    np.testing.assert_allclose(emb[1], ClassicEmbedder().embed(y[None, 11025:33075])[0],
                               rtol=1e-5, atol=1e-4)

    rc, _, err = cli(capsys, "embed", long_path, "--model", "classic", "--out",
                     tmp_path / "emb.txt", "-q")
    assert rc == 2 and ".parquet or .csv or .npz" in err


def test_cli_train_evaluate_predict_with_a_recipe(data, tmp_path, capsys):
    model = tmp_path / "m.earmark"
    rc, out, _ = cli(capsys, "train", data, "--recipe", RECIPE, "--out", model, "-q")
    assert rc == 0 and "trained embed:classic+logreg for 3 classes on 48 clips" in out
    assert ClassicEmbedder.licence in out
    assert earmark.load(model).recipe == RECIPE

    paths, truth = held_out(tmp_path / "x", per_class=3)
    rc, _, _ = cli(capsys, "predict", model, *paths, "--out", tmp_path / "p.csv", "-q")
    assert rc == 0 and (pd.read_csv(tmp_path / "p.csv")["label"] == truth).mean() > 0.8

    rc, out, _ = cli(capsys, "evaluate", data, "--folds", "fold", "--recipe", RECIPE, "-q")
    assert rc == 0 and "folds=fold: balanced accuracy" in out

    rc, _, err = cli(capsys, "train", data, "--recipe", RECIPE, "--sample-rate", "8000",
                     "--out", tmp_path / "x.earmark", "-q")
    assert rc == 2 and "--sample-rate: feature options do not apply" in err


@pytest.mark.parametrize("args", [
    ["train", "{data}", "--recipe", "embed:yamnet+logreg", "--out", "{tmp}/m.earmark"],
    ["evaluate", "{data}", "--folds", "fold", "--recipe", "embed:yamnet+svm"],
    ["embed", "{data}", "--model", "yamnet", "--out", "{tmp}/e.parquet"]])
def test_cli_missing_model_gives_the_install_command(args, data, tmp_path, capsys):
    rc, out, err = cli(capsys, *[a.format(data=data, tmp=tmp_path) for a in args], "-q")
    assert rc == 2 and out == ""
    assert "not installed" in err and "earmark models install yamnet" in err
    assert not list(tmp_path.iterdir())        # nothing half-written
