"""Model files written before the task flow (earmark a35beae) still load and score the same.

The fixtures in ``tests/fixtures/legacy`` were made by ``make_fixture.py`` beside them with the
code of that commit; ``expected_scores.json`` holds the probabilities it computed then.
"""

import json
from pathlib import Path

import numpy as np
import pytest

import earmark

HERE = Path(__file__).parent / "fixtures" / "legacy"
EXPECTED = json.loads((HERE / "expected_scores.json").read_text())


@pytest.mark.parametrize("name,key", [("cnn_classifier_v0.earmark", "cnn"),
                                      ("embed_classic_classifier_v0.earmark", "embed")])
def test_old_classifier_file_loads_and_scores_the_same(name, key):
    clf = earmark.load(HERE / name)
    assert isinstance(clf, earmark.SoundClassifier)
    assert clf.task == "classification"
    assert clf.classes_ == EXPECTED["classes"]
    probes = [str(HERE / p) for p in EXPECTED["probes"]]
    np.testing.assert_allclose(clf.predict_proba(probes), EXPECTED[key], rtol=0, atol=1e-6)
    assert list(clf.predict(probes)) == [EXPECTED["classes"][i]
                                         for i in np.argmax(EXPECTED[key], axis=1)]
