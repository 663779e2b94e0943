"""End-to-end: train on generated classes, held-out accuracy, save/load, prediction paths."""

import numpy as np
import pytest
import soundfile as sf

import earmark
from earmark.errors import ModelFileError, NotFittedError, ParameterError

from _signals import FAST, SR, make_clip, write_dataset


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = write_dataset(tmp_path_factory.mktemp("train"), per_class=16, seed=0)
    clf = earmark.SoundClassifier(**FAST).fit(root)
    return clf, root


def test_held_out_accuracy_above_90_percent(trained, tmp_path):
    clf, _ = trained
    rng = np.random.default_rng(123)
    paths, truth = [], []
    for kind in ("low", "high", "noise"):
        for i in range(8):
            p = tmp_path / f"{kind}{i}.wav"
            sf.write(p, make_clip(kind, rng), SR)
            paths.append(str(p))
            truth.append(kind)
    pred = clf.predict(paths)
    assert np.mean(pred == np.array(truth)) > 0.9
    proba = clf.predict_proba(paths)
    assert proba.shape == (24, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert clf.classes_ == ["high", "low", "noise"]


def test_fit_records_history_and_validation_by_group(trained):
    clf, _ = trained
    assert 1 <= len(clf.history_) <= FAST["epochs"]
    assert {"train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr"} <= set(
        clf.history_[0])
    assert clf.train_info_["n_val_clips"] > 0
    assert clf.train_info_["group_column"] == "group"


def test_save_load_gives_identical_scores(trained, tmp_path):
    clf, root = trained
    path = clf.save(tmp_path / "m.earmark")
    again = earmark.load(path)
    files = sorted(str(p) for p in (root / "low").glob("*.wav"))[:5]
    np.testing.assert_allclose(again.predict_proba(files), clf.predict_proba(files), atol=1e-6)
    assert again.classes_ == clf.classes_
    assert again.features_ == clf.features_
    assert again.metadata_["versions"]["earmark"] is not None


def test_same_seed_same_model(tmp_path):
    root = write_dataset(tmp_path / "d", per_class=6, seed=3)
    params = {**FAST, "epochs": 2}
    a = earmark.SoundClassifier(**params).fit(root)
    b = earmark.SoundClassifier(**params).fit(root)
    wins = np.random.default_rng(0).standard_normal((4, 4000)).astype(np.float32)
    np.testing.assert_array_equal(a.score_windows(wins), b.score_windows(wins))


def test_predict_table_keeps_going_after_a_corrupt_file(trained, tmp_path):
    clf, root = trained
    bad = tmp_path / "corrupt.wav"
    bad.write_bytes(b"RIFF....WAVEfmt garbage")
    good = sorted((root / "high").glob("*.wav"))[0]
    table = clf.predict_table([str(bad), str(good), str(tmp_path / "missing.wav")])
    assert list(table.columns) == ["path", "label", "high", "low", "noise", "error"]
    assert table["error"].notna().tolist() == [True, False, True]
    assert "corrupt.wav" in table["error"][0] and "missing.wav" in table["error"][2]
    assert table["label"][1] == "high"


def test_predict_windows_rows(trained, tmp_path):
    clf, _ = trained
    p = tmp_path / "long.wav"
    rng = np.random.default_rng(5)
    sf.write(p, np.concatenate([make_clip("low", rng, dur=2.0), make_clip("high", rng, dur=2.0)]),
             SR)
    t = clf.predict_table([str(p)], windows=True)
    fc = clf.features_
    assert len(t) == len(earmark.windows.window_starts(4 * SR, fc.window_samples,
                                                       fc.hop_samples))
    np.testing.assert_allclose(t["end_s"] - t["start_s"], fc.window_s)
    assert t["label"].iloc[0] == "low" and t["label"].iloc[-1] == "high"


def test_not_fitted_and_bad_params(tmp_path):
    with pytest.raises(NotFittedError, match="not fitted"):
        earmark.SoundClassifier().predict(["x.wav"])
    with pytest.raises(ParameterError, match="'model' parameter of SoundClassifier must be one "
                                             "of"):
        earmark.SoundClassifier(model="resnet9000").fit(tmp_path)
    with pytest.raises(ParameterError, match="'epochs' parameter of TrainConfig"):
        earmark.SoundClassifier(epochs=0).fit(tmp_path)


def test_default_recipe_is_the_regularised_set_for_60_epochs():
    from earmark.augment import FilterAugment, Gain, Mixup, SpecAugment
    _, train, plan, _ = earmark.SoundClassifier(seed=4).check_params()
    assert train.epochs == 60
    assert [type(t) for t in plan] == [Gain, FilterAugment, SpecAugment, Mixup]
    assert plan.seed == 4
    _, train, plan, _ = earmark.SoundClassifier(epochs=5, augment="default,shift").check_params()
    assert train.epochs == 5 and len(plan) == 5


def test_load_rejects_non_model_file(tmp_path):
    p = tmp_path / "x.earmark"
    p.write_text("hello")
    with pytest.raises(ModelFileError, match="not an earmark model file"):
        earmark.load(p)


def _write_low_high(root, durations, seed):
    """A folder dataset of 'low' and 'high' tone clips, one per duration in each class."""
    rng = np.random.default_rng(seed)
    for kind in ("low", "high"):
        (root / kind).mkdir()
        for i, dur in enumerate(durations):
            sf.write(root / kind / f"{i}.wav", make_clip(kind, rng, dur=dur), SR)
    return root


def test_window_is_chosen_from_clip_durations(tmp_path):
    _write_low_high(tmp_path, [2.3] * 4, seed=0)
    params = {**FAST, "epochs": 1, "val_fraction": 0.0}
    auto = earmark.SoundClassifier(**{**params, "features": None}).fit(tmp_path)
    # the shortest common window that holds the 2.3-s clips (2 s would cut them)
    assert (auto.features_.window_s, auto.features_.hop_s) == (3.0, 1.5)
    assert auto.features_.sample_rate == earmark.FeatureConfig().sample_rate
    given = earmark.SoundClassifier(**params).fit(tmp_path)   # an explicit window is kept
    assert given.features_.window_s == FAST["features"]["window_s"]
    # a dict without window_s changes the front end and still chooses the window
    front = {k: v for k, v in FAST["features"].items() if k not in ("window_s", "hop_s")}
    partial = earmark.SoundClassifier(**{**params, "features": front}).fit(tmp_path)
    assert (partial.features_.window_s, partial.features_.hop_s) == (3.0, 1.5)
    assert (partial.features_.n_mels, partial.features_.sample_rate) == (32, SR)
    # window_s without hop_s: half the window
    half = earmark.SoundClassifier(**{**params, "features": {**front, "window_s": 1.0}})
    assert half.check_params()[0].hop_s == 0.5


def test_features_dict_with_an_unknown_key_is_a_clear_error():
    clf = earmark.SoundClassifier(features={"n_mel": 32})
    with pytest.raises(ParameterError, match=r"The 'features' parameter of SoundClassifier: "
                                             r"FeatureConfig: unknown keys \['n_mel'\]"):
        clf.check_params()


def test_short_one_shots_get_a_window_that_holds_them(tmp_path):
    _write_low_high(tmp_path, (0.7, 0.75, 0.8, 0.85), seed=1)
    clf = earmark.SoundClassifier(**{**FAST, "epochs": 1, "val_fraction": 0.0,
                                     "features": None}).fit(tmp_path)
    # median 0.78 s: a 1-s window holds each clip (0.5 s would cut every one of them)
    assert (clf.features_.window_s, clf.features_.hop_s) == (1.0, 0.5)


def test_a_hop_longer_than_the_window_warns_that_audio_is_skipped(tmp_path):
    import warnings

    _write_low_high(tmp_path, [0.8] * 4, seed=2)
    front = {k: v for k, v in FAST["features"].items() if k not in ("window_s", "hop_s")}
    params = {**FAST, "epochs": 1, "val_fraction": 0.0}
    # the chosen 1-s window with a 2-s hop: half of every longer clip is never seen
    with pytest.warns(earmark.EarmarkWarning, match=r"hop \(2 s\) is longer than the analysis "
                                                    r"window \(1 s\), so 50% of every clip"):
        earmark.SoundClassifier(**{**params, "features": {**front, "hop_s": 2.0}}).fit(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", earmark.EarmarkWarning)
        earmark.SoundClassifier(**{**params, "features": {**front, "hop_s": 1.0}}).fit(tmp_path)
