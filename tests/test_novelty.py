"""Novelty detection: metrics against scikit-learn, scorers against scikit-learn, calibrated
thresholds, events, the model file and cross-validation, on generated normal (low tones and
noise) and anomalous (a high tone burst on top) clips."""

import numpy as np
import pytest
import soundfile as sf

import earmark
from earmark.errors import AudioError, DatasetError, ModelFileError, ParameterError
from earmark.estimators.novelty import _threshold, parse_false_alarms
from earmark.evaluation.novelty import novelty_metrics
from earmark.models.novelty import SCORERS, make_scorer, scorer_from_state
from earmark.tasks import get_task
from earmark.tasks.novelty import aggregate_scores

SR = 8000


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    # the embedding cache of these tests stays in their own folder
    monkeypatch.setenv("EARMARK_HOME", str(tmp_path / "home"))


def _clip(rng, kind, seconds=1.5):
    t = np.arange(int(seconds * SR)) / SR
    y = 0.2 * np.sin(2 * np.pi * rng.uniform(200, 400) * t) + 0.03 * rng.standard_normal(len(t))
    if kind == "anomaly":          # a high tone burst somewhere in the clip
        a, n = int(rng.uniform(0.1, seconds - 0.6) * SR), int(0.5 * SR)
        y[a:a + n] += 0.5 * np.sin(2 * np.pi * rng.uniform(2000, 3000) * t[:n])
    return y.astype(np.float32)


def _write(root, *, n=48, anomaly_every=3, seed=0, folds=4):
    """metadata.csv with label normal/anomaly, fold and group; every 3rd clip anomalous."""
    rng = np.random.default_rng(seed)
    (root / "a").mkdir(parents=True, exist_ok=True)
    rows = ["filename,label,fold,group,anomaly_family"]
    for i in range(n):
        kind = "anomaly" if i % anomaly_every == 0 else "normal"
        sf.write(root / f"a/c{i:02d}.wav", _clip(rng, kind), SR, subtype="PCM_16")
        fam = "tone" if kind == "anomaly" else ""
        rows.append(f"a/c{i:02d}.wav,{kind},{i % folds + 1},g{i % (2 * folds)},{fam}")
    (root / "metadata.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A detector fitted on the normal rows of a labelled dataset, and the dataset."""
    root = _write(tmp_path_factory.mktemp("novelty"))
    det = earmark.NoveltyDetector(false_alarms="5%", progress=False).fit(root)
    return det, root


# -- metrics ----------------------------------------------------------------------------------

def test_metrics_equal_sklearn_overall_and_per_family(rng):
    from sklearn.metrics import roc_auc_score

    y = np.array([0] * 30 + [1] * 20, bool)
    fam = np.array([""] * 30 + ["drum"] * 12 + ["foley"] * 8, object)
    s = rng.normal(size=50) + y * 1.0
    m = novelty_metrics(y, s, threshold=0.8, families=fam)
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, s))
    assert m["pauc"] == pytest.approx(roc_auc_score(y, s, max_fpr=0.1))
    assert m["false_alarm_rate"] == pytest.approx(np.mean(s[:30] > 0.8))
    assert m["recall"] == pytest.approx(np.mean(s[30:] > 0.8))
    keep = np.r_[0:30, 42:50]                   # all normals and the foley anomalies
    assert m["per_family"]["foley"]["roc_auc"] == pytest.approx(roc_auc_score(y[keep], s[keep]))
    assert m["per_family"]["foley"]["pauc"] == pytest.approx(
        roc_auc_score(y[keep], s[keep], max_fpr=0.1))
    assert m["per_family"]["drum"]["recall"] == pytest.approx(np.mean(s[30:42] > 0.8))
    assert m["per_family"]["drum"]["n"] == 12 and m["n_normal"] == 30


def test_metrics_hand_computed_and_bad_input():
    m = novelty_metrics([False, False, True, True], [0.1, 0.4, 0.35, 0.8], threshold=0.5)
    # pairs (anomaly > normal): 0.35 > 0.1, 0.8 > 0.1, 0.8 > 0.4 -> 3 of 4
    assert (m["roc_auc"], m["false_alarm_rate"], m["recall"]) == (0.75, 0.0, 0.5)
    assert novelty_metrics([False, False], [0.1, 0.2])["roc_auc"] is None
    with pytest.raises(ParameterError, match="finite"):
        novelty_metrics([False, True], [0.1, np.nan])
    with pytest.raises(ParameterError, match="one score per clip"):
        novelty_metrics([False, True], [0.1])


def test_task_encodes_decides_and_aggregates():
    task = get_task("novelty")
    assert task.encode([("normal",), ("drum",), ("anomaly",)]).ravel().tolist() == [0, 1, 1]
    assert task.decide([0.2, 0.9, 0.5], thresholds=0.5).tolist() == [False, True, False]
    s = [1.0, 5.0, 2.0, 4.0]
    assert aggregate_scores(s, method="max") == 5.0
    assert aggregate_scores(s, method="top_k_mean", top_k=2) == 4.5
    assert aggregate_scores(s, method="mean") == 3.0
    assert aggregate_scores(s, method="contrast") == 5.0 - 3.0     # median of 1, 2, 4, 5
    with pytest.raises(ParameterError):
        aggregate_scores(s, method="median")


# -- scorers ------------------------------------------------------------------------------------

def _data(rng):
    X = rng.normal(size=(300, 6)) * [1, 2, 3, 1, 1, 5] + 3
    Y = rng.normal(size=(40, 6)) * 3
    Z = (X - X.mean(0)) / X.std(0)
    return X, Y, Z, (Y - X.mean(0)) / X.std(0)


def test_knn_is_mean_distance_to_nearest_neighbours(rng):
    from sklearn.neighbors import NearestNeighbors

    X, Y, Z, ZY = _data(rng)
    d, _ = NearestNeighbors(n_neighbors=5).fit(Z).kneighbors(ZY)
    got = make_scorer("knn", n_neighbors=5).fit(X).score(Y)
    np.testing.assert_allclose(got, d.mean(axis=1), atol=1e-6)
    unit = lambda A: A / np.linalg.norm(A, axis=1, keepdims=True)  # noqa: E731
    d, _ = NearestNeighbors(n_neighbors=2).fit(unit(Z)).kneighbors(unit(ZY))
    got = make_scorer("knn", n_neighbors=2, l2_normalize=True).fit(X).score(Y)
    np.testing.assert_allclose(got, d.mean(axis=1), atol=1e-6)


def test_knn_l2_default_follows_the_embedder():
    assert earmark.NoveltyDetector()._make_scorer().l2_normalize is False
    assert earmark.NoveltyDetector(embedder="yamnet")._make_scorer().l2_normalize is True
    assert earmark.NoveltyDetector(embedder="yamnet", l2_normalize=False) \
        ._make_scorer().l2_normalize is False


def test_mahalanobis_gmm_iforest_equal_sklearn(rng):
    from sklearn.covariance import LedoitWolf
    from sklearn.ensemble import IsolationForest
    from sklearn.mixture import GaussianMixture

    X, Y, Z, ZY = _data(rng)
    np.testing.assert_allclose(make_scorer("mahalanobis").fit(X).score(Y),
                               LedoitWolf().fit(Z).mahalanobis(ZY), rtol=1e-9)
    for cov in ("diag", "full"):
        gm = GaussianMixture(3, covariance_type=cov, reg_covar=1e-3, random_state=2).fit(Z)
        got = make_scorer("gmm", n_components=3, covariance=cov).fit(X, seed=2).score(Y)
        np.testing.assert_allclose(got, -gm.score_samples(ZY), rtol=1e-9)
    forest = IsolationForest(n_estimators=30, random_state=4).fit(Z)
    got = make_scorer("iforest", n_trees=30).fit(X, seed=4).score(Y)
    np.testing.assert_allclose(got, -forest.score_samples(ZY), rtol=1e-12)


@pytest.mark.parametrize("method", sorted(SCORERS))
def test_scorer_state_is_plain_arrays_and_round_trips(rng, method):
    X, Y, _, _ = _data(rng)
    # the autoencoder reads these 6 numbers as 2 mel bands x 3 frames
    scorer = make_scorer(method, n_trees=10, n_mels=2, context=2, hidden=4, bottleneck=2,
                         epochs=2).fit(X, seed=1)
    config, arrays = scorer.get_state()
    assert all(a.dtype.kind in "fi" for a in arrays.values())      # nothing pickled
    np.testing.assert_array_equal(scorer_from_state(config, arrays).score(Y), scorer.score(Y))


def test_autoencoder_stacks_frames_and_learns_the_normal_frames():
    ae = make_scorer("autoencoder", n_mels=2, context=2)
    # one window: mel band a over frames 0..2, then band b
    z = np.array([[10.0, 11.0, 12.0, 20.0, 21.0, 22.0]])
    assert ae._stacks(z).tolist() == [[[10.0, 20.0, 11.0, 21.0], [11.0, 21.0, 12.0, 22.0]]]
    rng = np.random.default_rng(0)
    t = np.arange(8)
    normal = np.concatenate([np.sin(t + rng.uniform(0, 6, (200, 1))),    # band a: a sine
                             np.zeros((200, 8))], axis=1)                  # band b: silent
    normal += 0.01 * rng.standard_normal(normal.shape)
    odd = normal[:20].copy()
    odd[:, 8:] = 3 * rng.standard_normal((20, 8))                           # band b: noise
    ae = make_scorer("autoencoder", n_mels=2, context=4, hidden=32, bottleneck=4,
                     epochs=60).fit(normal, seed=0)
    assert ae.score(odd).min() > ae.score(normal[20:60]).max()


def test_autoencoder_goes_with_logmel_frames_only():
    with pytest.raises(ParameterError, match="go together"):
        earmark.NoveltyDetector(method="autoencoder").check_params()
    with pytest.raises(ParameterError, match="go together"):
        earmark.NoveltyDetector(embedder="logmel").check_params()


def test_damaged_iforest_state_is_refused(rng):
    X, _, _, _ = _data(rng)
    config, arrays = make_scorer("iforest", n_trees=3).fit(X).get_state()
    arrays["left"] = arrays["left"].copy()
    arrays["left"][0] = 0                      # the root points at itself: a walk never ends
    with pytest.raises(ModelFileError, match="child"):
        scorer_from_state(config, arrays)


# -- budgets, thresholds, tail probabilities ------------------------------------------------------

def test_false_alarm_budgets():
    assert parse_false_alarms("1%") == ("fraction", 0.01)
    assert parse_false_alarms("2/h") == ("per_hour", 2.0)
    assert parse_false_alarms(0.05) == ("fraction", 0.05)
    for bad in ("1", "0%", "60%", "x/h", 0.9, True, float("nan")):
        with pytest.raises(ParameterError, match="The 'false_alarms' parameter of"):
            parse_false_alarms(bad)


def test_threshold_keeps_within_budget():
    cal = np.arange(1, 101, dtype=float)          # 100 held-out normal scores 1..100
    assert _threshold(cal, 0.05) == 95.0           # 96..100 above: 5 %
    assert _threshold(cal, 0.001) == 100.0         # none above
    assert np.mean(cal > _threshold(cal, 0.123)) <= 0.123


def test_fit_calibrates_and_budget_changes_without_refitting(fitted):
    det, _ = fitted
    cal = det.calibration_window_scores_
    assert np.mean(cal > det.threshold_) <= 0.05
    assert det.calibration_files_ == 32              # the 32 normal clips of 48
    scorer = det.scorer_
    det.set_false_alarms("20%")
    assert det.scorer_ is scorer and 0.15 < np.mean(cal > det.threshold_) <= 0.20
    # per hour: one alarm per flagged window, a window per hop of audio
    det.set_false_alarms("720/h")
    assert det.false_alarm_fraction_[0] == pytest.approx(720 * det.features_.hop_s / 3600)
    det.set_false_alarms("5%")
    # tail probability: (1 + held-out scores at least as high) / (n + 1)
    n = len(cal)
    p = det.tail_probability([cal[-1] + 1, cal[0] - 1, cal[n // 2]])
    assert p.tolist() == pytest.approx([1 / (n + 1), 1.0, (1 + n - n // 2) / (n + 1)])


def test_detector_separates_anomalies_from_new_normals(fitted, tmp_path):
    det, _ = fitted
    rng = np.random.default_rng(7)
    files, truth = [], []
    for i in range(16):
        kind = "anomaly" if i % 2 else "normal"
        path = tmp_path / f"t{i}.wav"
        sf.write(path, _clip(rng, kind), SR, subtype="PCM_16")
        files.append(str(path))
        truth.append(kind == "anomaly")
    scores = det.score_files(files)
    assert novelty_metrics(np.array(truth), scores)["roc_auc"] >= 0.9
    table = det.predict_table(files)
    assert list(table.columns) == ["path", "score", "tail_probability", "anomalous", "error"]
    np.testing.assert_allclose(table["score"], scores)
    assert table["anomalous"].tolist() == (scores > det.file_threshold_).tolist()
    windows = det.predict_table(files[:2], windows=True)
    assert {"start_s", "end_s"} <= set(windows.columns)
    assert (windows["anomalous"] == (windows["score"] > det.threshold_)).all()


def test_events_are_merged_flagged_windows(fitted):
    det, _ = fitted
    hop, win = det.features_.hop_s, det.features_.window_s       # classic: 0.5 s, 1 s
    t = det.threshold_
    starts = np.arange(10) * hop
    scores = np.full(10, t - 1.0)
    scores[[3, 4]] = t + 1.0                  # windows 1.5-2.5 s and 2.0-3.0 s
    scores[8] = t + 2.0                       # 4.0-5.0 s
    events = det.events(starts, scores)
    assert [(on, off) for on, off, _, _ in events] == [(3 * hop, 4 * hop + win),
                                                       (8 * hop, 8 * hop + win)]
    assert all(lab == "anomaly" and 0 < s <= 1 for _, _, lab, s in events)


def test_detect_finds_a_burst_in_a_long_recording(fitted, tmp_path):
    det, _ = fitted
    rng = np.random.default_rng(3)
    y = np.concatenate([_clip(rng, "normal", 4.0), _clip(rng, "normal", 4.0)])
    t = np.arange(int(0.6 * SR)) / SR
    y[int(4.2 * SR):int(4.8 * SR)] += (0.5 * np.sin(2 * np.pi * 2500 * t)).astype(np.float32)
    sf.write(tmp_path / "long.wav", y, SR, subtype="PCM_16")
    try:     # the strictest budget these 64 held-out windows allow: no normal window above
        ev = det.set_false_alarms("1%").detect([str(tmp_path / "long.wav")])
    finally:
        det.set_false_alarms("5%")
    assert len(ev) >= 1
    hit = ev[(ev.onset <= 4.5) & (ev.offset >= 4.5)]
    assert len(hit) == 1 and hit.offset.iloc[0] - hit.onset.iloc[0] <= 2.5


def test_autoencoder_detector_flags_the_high_tone_and_round_trips(fitted, tmp_path):
    _, root = fitted
    det = earmark.NoveltyDetector(method="autoencoder", embedder="logmel", epochs=4,
                                  false_alarms="5%", progress=False).fit(root)
    files = [str(root / f"a/c{i:02d}.wav") for i in range(6)]     # c00 and c03 anomalous
    scores = det.score_files(files)
    assert min(scores[0], scores[3]) > max(scores[[1, 2, 4, 5]])
    back = earmark.load(det.save(tmp_path / "ae.earmark"))
    np.testing.assert_allclose(back.score_files(files), scores, rtol=1e-12)


def test_save_and_load(fitted, tmp_path):
    det, root = fitted
    path = det.save(tmp_path / "pump.earmark")
    back = earmark.load(path)
    assert isinstance(back, earmark.NoveltyDetector) and back.method == "knn"
    files = sorted(str(p) for p in (root / "a").glob("*.wav"))[:4]
    np.testing.assert_array_equal(back.score_files(files), det.score_files(files))
    assert (back.threshold_, back.file_threshold_) == (det.threshold_, det.file_threshold_)


@pytest.mark.parametrize("damage, message", [
    (lambda m: m["model"]["scorer"].update(n_features=7), "shape"),    # the arrays say 208
    (lambda m: m["params"].update(aggregation="median"), "'aggregation'"),
    (lambda m: m["model"]["scorer"].update(method="svm"), "unknown method"),
])
def test_damaged_model_file_is_refused(fitted, tmp_path, damage, message):
    import json
    import zipfile

    det, _ = fitted
    path = det.save(tmp_path / "m.earmark")
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    meta_name = next(n for n in parts if n.endswith(".json"))
    meta = json.loads(parts[meta_name])
    damage(meta)
    parts[meta_name] = json.dumps(meta).encode()
    bad = tmp_path / "bad.earmark"
    with zipfile.ZipFile(bad, "w") as z:
        for n, b in parts.items():
            z.writestr(n, b)
    with pytest.raises(ModelFileError, match="bad.earmark") as info:
        earmark.load(bad)
    assert message in str(info.value)


# -- bad input ----------------------------------------------------------------------------------

def test_flat_folder_of_normal_clips_and_clear_errors(tmp_path):
    rng = np.random.default_rng(1)
    flat = tmp_path / "flat"
    flat.mkdir()
    for i in range(6):
        sf.write(flat / f"n{i}.wav", _clip(rng, "normal"), SR, subtype="PCM_16")
    det = earmark.NoveltyDetector(progress=False).fit(flat)
    assert det.calibration_files_ == 6

    silent = tmp_path / "silent"
    silent.mkdir()
    for i in range(4):
        sf.write(silent / f"s{i}.wav", np.zeros(SR, np.float32), SR, subtype="PCM_16")
    with pytest.raises(DatasetError, match="silent or constant"):
        earmark.NoveltyDetector(progress=False).fit(silent)

    one = tmp_path / "one"
    one.mkdir()
    sf.write(one / "n.wav", _clip(rng, "normal"), SR, subtype="PCM_16")
    with pytest.raises(DatasetError, match="at least 2 normal clips"):
        earmark.NoveltyDetector(progress=False).fit(one)

    nan = tmp_path / "nan"
    nan.mkdir()
    for i in range(3):
        y = _clip(rng, "normal")
        y[100] = np.nan if i == 1 else y[100]
        sf.write(nan / f"n{i}.wav", y, SR, subtype="FLOAT")
    with pytest.raises((AudioError, DatasetError), match="NaN"):
        earmark.NoveltyDetector(progress=False).fit(nan)


def test_labelled_data_without_normal_rows_and_bad_params(tmp_path):
    rng = np.random.default_rng(2)
    for lab in ("a", "b"):
        (tmp_path / lab).mkdir()
        for i in range(2):
            sf.write(tmp_path / lab / f"{i}.wav", _clip(rng, "normal"), SR)
    with pytest.raises(DatasetError, match="labelled 'normal'"):
        earmark.NoveltyDetector(progress=False).fit(tmp_path)
    with pytest.raises(ParameterError, match="The 'method' parameter of NoveltyDetector"):
        earmark.NoveltyDetector(method="svm").check_params()
    with pytest.raises(ParameterError, match="The 'top_k' parameter of NoveltyDetector"):
        earmark.NoveltyDetector(top_k=0).check_params()


# -- cross-validation ---------------------------------------------------------------------------

def test_cross_validate_fits_on_normal_clips_of_other_folds(fitted):
    _, root = fitted
    cv = earmark.cross_validate(root, folds="fold", progress=False,
                                estimator=earmark.NoveltyDetector(false_alarms="10%",
                                                                  progress=False))
    assert cv["task"] == "novelty" and len(cv["folds"]) == 4
    for key in ("roc_auc", "pauc", "false_alarm_rate"):
        assert cv[key] == pytest.approx(np.mean([f[key] for f in cv["folds"]]))
    assert cv["roc_auc"] >= 0.9
    # 48 clips, fold = i % 4 + 1, anomalous every 3rd: the normal clips of the other 3 folds
    labels = np.array(["anomaly" if i % 3 == 0 else "normal" for i in range(48)])
    folds = np.arange(48) % 4 + 1
    for f in cv["folds"]:
        k = int(f["fold"])
        assert f["n_fit"] == int(((folds != k) & (labels == "normal")).sum())
    assert set(cv["per_family"]) == {"tone"} and cv["family_column"] == "anomaly_family"
    assert len(cv["predictions"]) == 48


def _bad_training_sets(root, rng):
    """Folders of normal clips that cannot be fitted on: (folder, error class, message)."""
    cases = []
    silent = root / "silent"
    silent.mkdir()
    for i in range(4):
        sf.write(silent / f"s{i}.wav", np.zeros(SR, np.float32), SR, subtype="PCM_16")
    cases.append((silent, DatasetError, "silent or constant"))
    constant = root / "constant"            # a DC offset: every window alike
    constant.mkdir()
    for i in range(4):
        sf.write(constant / f"c{i}.wav", np.full(SR, 0.25, np.float32), SR, subtype="FLOAT")
    cases.append((constant, DatasetError, "constant"))
    nan = root / "nan"
    nan.mkdir()
    for i in range(3):
        y = _clip(rng, "normal")
        if i == 1:
            y[100] = np.nan
        sf.write(nan / f"n{i}.wav", y, SR, subtype="FLOAT")
    cases.append((nan, AudioError, "n1.wav: audio contains NaN"))
    one = root / "one"
    one.mkdir()
    sf.write(one / "n.wav", _clip(rng, "normal"), SR, subtype="PCM_16")
    cases.append((one, DatasetError, "at least 2 normal clips"))
    return cases


def test_bad_training_sets_give_clear_errors(tmp_path):
    for folder, error, message in _bad_training_sets(tmp_path, np.random.default_rng(3)):
        with pytest.raises(error, match=message):
            earmark.NoveltyDetector(progress=False).fit(folder)
