"""The runnable examples in the docstrings of the task flow's modules run and give what they
show."""

import doctest
import importlib

import pytest

MODULES = ["earmark.tasks", "earmark.tasks.classification", "earmark.tasks.tagging",
           "earmark.windows", "earmark.train", "earmark.evaluation.tagging",
           "earmark.evaluation.classification", "earmark.evaluation.cross_validation",
           "earmark.estimators.ensemble", "earmark.data.annotations",
           "earmark.tasks.detection", "earmark.models.crnn", "earmark.models.frames",
           "earmark.inference.frames", "earmark.inference.postprocess",
           "earmark.evaluation.detection", "earmark.data.strong_labels",
           "earmark.tasks.novelty", "earmark.evaluation.novelty"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples left to run"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
