"""SoundTagger end to end on generated clips holding any subset of three known sounds."""

import numpy as np
import pandas as pd
import pytest

import earmark
from earmark import SoundTagger
from earmark.errors import NotFittedError

from _signals import SR, write_tagging_dataset

FAST_TAGGER = dict(model="sbcnn", epochs=15, batch_size=8, learning_rate=3e-3, patience=15,
                   augment="none", progress=False,
                   features=dict(sample_rate=SR, n_fft=256, hop_length=128, n_mels=32,
                                 window_s=0.5, hop_s=0.25))


@pytest.fixture(scope="module")
def tag_data(tmp_path_factory):
    return write_tagging_dataset(tmp_path_factory.mktemp("tags") / "data", n_clips=40)


@pytest.fixture(scope="module")
def held_out(tmp_path_factory):
    return write_tagging_dataset(tmp_path_factory.mktemp("tags_test") / "data", n_clips=16,
                                 seed=7)


@pytest.fixture(scope="module")
def classic_tagger(tag_data):
    return SoundTagger(recipe="embed:classic+logreg", progress=False).fit(tag_data)


def _truth(root):
    table = pd.read_csv(root / "metadata.csv")
    return [str(root / p) for p in table["filename"]], [tuple(sorted(s.split(";")))
                                                         for s in table["labels"]]


def test_embedding_tagger_finds_each_sound(classic_tagger, held_out):
    paths, truth = _truth(held_out)
    assert classic_tagger.classes_ == ["high", "low", "noise"]
    proba = classic_tagger.predict_proba(paths)
    assert proba.shape == (len(paths), 3)
    assert not np.allclose(proba.sum(axis=1), 1.0)         # independent, not a softmax
    y = earmark.tasks.get_task("tagging").encode(truth, classic_tagger.classes_)
    m = earmark.tagging_metrics(y, proba, classic_tagger.classes_,
                                thresholds=classic_tagger.thresholds_)
    assert m["map_macro"] > 0.9 and m["f1_micro"] > 0.8
    pred = classic_tagger.predict(paths)
    assert all(isinstance(p, tuple) for p in pred)
    hot = classic_tagger.predict(paths, multi_hot=True)
    assert hot.shape == (len(paths), 3)
    assert [tuple(c for c, h in zip(classic_tagger.classes_, row) if h) for row in hot] == pred
    assert "out-of-fold" in classic_tagger.threshold_source_


def test_tagger_save_load_same_scores_and_thresholds(classic_tagger, held_out, tmp_path):
    paths, _ = _truth(held_out)
    path = classic_tagger.save(tmp_path / "tags.earmark")
    loaded = earmark.load(path)
    assert isinstance(loaded, SoundTagger) and loaded.task == "tagging"
    np.testing.assert_allclose(loaded.predict_proba(paths), classic_tagger.predict_proba(paths),
                               atol=1e-6)
    np.testing.assert_array_equal(loaded.thresholds_, classic_tagger.thresholds_)
    assert loaded.predict(paths) == classic_tagger.predict(paths)


def test_tagger_predict_table_has_labels_column(classic_tagger, held_out, tmp_path):
    paths, _ = _truth(held_out)
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"not audio")
    table = classic_tagger.predict_table(paths[:3] + [str(bad)], progress=False)
    assert list(table.columns) == ["path", "labels", "high", "low", "noise", "error"]
    assert table["error"].iloc[:3].isna().all() and "broken.wav" in table["error"].iloc[3]
    expected = [";".join(s) for s in classic_tagger.predict(paths[:3])]
    assert table["labels"].iloc[:3].tolist() == expected


def test_cnn_tagger_learns_and_tunes_thresholds_on_validation(tag_data, held_out,
                                                             one_torch_thread):
    tagger = SoundTagger(**FAST_TAGGER).fit(tag_data)
    assert tagger.model_.activation == "sigmoid"
    assert tagger.train_info_["n_val_clips"] > 0              # default val_fraction 0.2
    assert tagger.threshold_source_ == "validation clips"
    assert tagger.thresholds_.shape == (3,)
    assert "val_map_macro" in tagger.history_[0]
    paths, truth = _truth(held_out)
    y = earmark.tasks.get_task("tagging").encode(truth, tagger.classes_)
    m = earmark.tagging_metrics(y, tagger.predict_proba(paths), tagger.classes_)
    assert m["map_macro"] > 0.8


def test_cross_validate_tagging_result(tag_data):
    cv = earmark.cross_validate(tag_data, folds="fold", progress=False,
                                estimator=SoundTagger(recipe="embed:classic+logreg",
                                                      progress=False))
    assert cv["task"] == "tagging" and cv["primary_metric"] == "map_macro"
    for key in ("map_macro", "map_micro", "f1_micro", "lrap", "roc_auc_macro"):
        assert 0.0 <= cv[key] <= 1.0
    assert cv["map_macro"] > 0.85
    assert len(cv["folds"]) == 4 and all(set(f["thresholds"]) == {"high", "low", "noise"}
                                         for f in cv["folds"])
    p = cv["predictions"][0]
    assert isinstance(p["labels"], list) and isinstance(p["predicted"], list)
    assert set(cv["per_class"]) == {"high", "low", "noise"}
    # the fold means are the means of the folds
    assert cv["map_macro"] == pytest.approx(np.mean([f["map_macro"] for f in cv["folds"]]))


def test_combine_cv_results_of_taggers_averages_scores(tag_data):
    from earmark.evaluation import combine_cv_results

    runs = [earmark.cross_validate(tag_data, folds="fold", progress=False,
                                   estimator=SoundTagger(recipe=f"embed:classic+{h}",
                                                         progress=False))
            for h in ("logreg", "rf")]
    both = combine_cv_results(runs)
    assert both["task"] == "tagging"
    p0 = [r["predictions"][0]["probabilities"]["low"] for r in runs]
    assert both["predictions"][0]["probabilities"]["low"] == pytest.approx(np.mean(p0))
    assert both["map_macro"] > 0.8


def test_not_fitted_and_bad_aggregation(tag_data):
    with pytest.raises(NotFittedError, match="SoundTagger is not fitted"):
        SoundTagger().predict(["x.wav"])
    with pytest.raises(earmark.ParameterError, match="'aggregation' parameter of SoundTagger"):
        SoundTagger(aggregation="vote").fit(tag_data)


def test_classifier_refuses_multi_label_data(tag_data):
    with pytest.raises(earmark.ParameterError, match="task='tagging'"):
        earmark.SoundClassifier(recipe="embed:classic+logreg", progress=False).fit(tag_data)


def test_set_thresholds(classic_tagger):
    t = classic_tagger.thresholds_.copy()
    try:
        classic_tagger.set_thresholds({"low": 0.9})
        assert classic_tagger.thresholds_[1] == 0.9 and classic_tagger.thresholds_[0] == t[0]
        with pytest.raises(earmark.ParameterError, match="unknown classes"):
            classic_tagger.set_thresholds({"cat": 0.5})
        with pytest.raises(earmark.ParameterError, match="one value in \\[0, 1\\] per class"):
            classic_tagger.set_thresholds([0.5, 2.0, 0.1])
    finally:
        classic_tagger.set_thresholds(t)


def test_strong_labels_train_windows_on_their_events(tmp_path, one_torch_thread):
    data = write_tagging_dataset(tmp_path / "strong", n_clips=32, seconds=2.0, annotations=True)
    held = write_tagging_dataset(tmp_path / "strong_test", n_clips=12, seed=5, seconds=2.0)
    tagger = SoundTagger(**{**FAST_TAGGER, "features": None, "epochs": 12},
                         window_labels="events").fit(data)
    # the window holds the median event (0.4 s), not the 2-s clip
    assert tagger.features_.window_s == 0.5
    paths, truth = _truth(held)
    y = earmark.tasks.get_task("tagging").encode(truth, tagger.classes_)
    assert earmark.tagging_metrics(y, tagger.predict_proba(paths),
                                   tagger.classes_)["map_macro"] > 0.8
    emb = SoundTagger(recipe="embed:classic+logreg", window_labels="events",
                      progress=False).fit(data)
    assert earmark.tagging_metrics(y, emb.predict_proba(paths), emb.classes_)["map_macro"] > 0.8
    loaded = earmark.load(emb.save(tmp_path / "strong.earmark"))
    assert loaded.window_labels == "events"


def test_strong_labels_need_annotations_and_refuse_moving_augmentations(tag_data, tmp_path):
    with pytest.raises(earmark.ParameterError, match="needs strong labels"):
        SoundTagger(recipe="embed:classic+logreg", window_labels="events",
                    progress=False).fit(tag_data)
    with pytest.raises(earmark.ParameterError, match="'window_labels' parameter of SoundTagger"):
        SoundTagger(window_labels="frames").check_params()
    data = write_tagging_dataset(tmp_path / "s", n_clips=16, annotations=True)
    with pytest.raises(earmark.ParameterError, match="move events in time"):
        SoundTagger(**{**FAST_TAGGER, "augment": "shift"}, window_labels="events").fit(data)


def test_window_targets_from_events():
    from earmark.train import window_targets

    events = np.array([[100, 300, 0], [350, 360, 1]])
    t = window_targets(events, [0, 200, 340], 100, 2)
    # window 0-100 misses the first event; 200-300 is inside it; 340-440 holds all of the short
    # second event (10 samples: half of the shorter of the two is 5)
    assert t.tolist() == [[0, 0], [1, 0], [0, 1]]


def test_tune_thresholds_refuses_labels_the_tagger_does_not_know(classic_tagger, tmp_path):
    other = write_tagging_dataset(tmp_path / "other", n_clips=8)
    table = (other / "metadata.csv").read_text().replace("low", "hum")
    (other / "metadata.csv").write_text(table)
    before = classic_tagger.thresholds_.copy()
    with pytest.raises(earmark.ParameterError, match=r"labels \['hum'\] are not classes"):
        classic_tagger.tune_thresholds(other)
    np.testing.assert_array_equal(classic_tagger.thresholds_, before)   # nothing changed
