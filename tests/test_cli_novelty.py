"""The command line of novelty detection: --task novelty options, and earmark predict of a
novelty model (per-window scores and flags, --false-alarms at predict time)."""

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

import earmark
from earmark.cli import build_parser, main
from earmark.cli._options import _estimator
from earmark.errors import ParameterError

SR = 8000


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("EARMARK_HOME", str(tmp_path / "home"))


def _tone_clip(rng, freq, seconds=1.5):
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * freq * t) + 0.03 * rng.standard_normal(len(t))) \
        .astype(np.float32)


def test_task_novelty_options_build_a_novelty_detector():
    args = build_parser().parse_args(["train", "data/", "--out", "m.earmark", "--task",
                                      "novelty", "--method", "gmm", "--false-alarms", "2/h",
                                      "--embedder", "classic", "--aggregation", "mean",
                                      "--seed", "3", "-q"])
    est = _estimator(args)
    assert isinstance(est, earmark.NoveltyDetector)
    assert (est.method, est.false_alarms, est.embedder, est.aggregation, est.seed,
            est.progress) == ("gmm", "2/h", "classic", "mean", 3, False)
    default = _estimator(build_parser().parse_args(["evaluate", "d/", "--folds", "fold",
                                                    "--task", "novelty"]))
    assert default.get_params() == earmark.NoveltyDetector().get_params()


@pytest.mark.parametrize("argv, message", [
    (["--method", "knn"], "apply to --task novelty only"),
    (["--task", "novelty", "--window-s", "1"], "do not apply"),
    (["--task", "novelty", "--recipe", "cnn"], "do not apply"),
])
def test_options_that_do_not_apply_are_refused(argv, message):
    args = build_parser().parse_args(["train", "d/", "--out", "m.earmark", *argv])
    with pytest.raises(ParameterError, match=message):
        _estimator(args)


def test_predict_writes_window_scores_and_flags_at_any_budget(tmp_path, capsys):
    rng = np.random.default_rng(0)
    normal = tmp_path / "normal"
    normal.mkdir()
    for i in range(8):
        sf.write(normal / f"n{i}.wav", _tone_clip(rng, rng.uniform(250, 350)), SR)
    det = earmark.NoveltyDetector(false_alarms="1%", progress=False).fit(normal)
    model = det.save(tmp_path / "pump.earmark")
    day = tmp_path / "day.wav"
    sf.write(day, np.concatenate([_tone_clip(rng, 300, 3.0), _tone_clip(rng, 2500, 1.0),
                                  _tone_clip(rng, 300, 2.0)]), SR)
    out = tmp_path / "scores.csv"
    assert main(["predict", str(model), str(day), "--windows", "--out", str(out), "-q"]) == 0
    t = pd.read_csv(out)
    assert list(t.columns) == ["path", "start_s", "end_s", "score", "tail_probability",
                               "anomalous", "error"]
    starts, scores = det.score_windows(str(day))
    np.testing.assert_allclose(t["score"], scores, rtol=1e-5)
    assert t["anomalous"].tolist() == (scores > det.threshold_).tolist()
    high = (t.start_s < 4.0) & (t.end_s > 3.0)            # windows over the 2.5 kHz second
    assert t.loc[high, "anomalous"].any() and not t.loc[t.end_s <= 3.0, "anomalous"].any()
    # a looser budget moves the threshold without refitting: more windows flagged
    loose = tmp_path / "loose.csv"
    assert main(["predict", str(model), str(day), "--windows", "--out", str(loose), "-q",
                 "--false-alarms", "40%"]) == 0
    want = scores > det.set_false_alarms("40%").threshold_
    assert pd.read_csv(loose)["anomalous"].tolist() == want.tolist()
    assert want.sum() >= t["anomalous"].sum()


def test_bad_training_sets_exit_2_naming_the_problem(tmp_path, capsys):
    from test_novelty import _bad_training_sets

    for folder, _, message in _bad_training_sets(tmp_path, np.random.default_rng(3)):
        out = tmp_path / f"{folder.name}.earmark"
        assert main(["train", str(folder), "--task", "novelty", "--out", str(out), "-q"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("earmark: error:") and message.split(": ")[-1] in err, err
        assert not out.exists()
