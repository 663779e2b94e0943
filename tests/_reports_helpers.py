"""Checks shared by the report tests (test_reports.py, test_reports_tagging.py)."""

import os

import pytest

from earmark.reports import plots


def check_failure_midway_keeps_report(write, plot, tmp_path, monkeypatch):
    """Make ``plots.<plot>`` fail while ``write(path)`` writes a report over an existing file:
    the error comes through, the old file is as it was and no temporary file is left."""
    out = tmp_path / "report.html"
    out.write_text("previous report")

    def broken(*args, **kwargs):
        raise RuntimeError("plot failed")

    monkeypatch.setattr(plots, plot, broken)
    with pytest.raises(RuntimeError, match="plot failed"):
        write(out)
    assert out.read_text() == "previous report"
    assert os.listdir(tmp_path) == ["report.html"]
