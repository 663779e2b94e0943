"""Inference: from a detector's frame scores to sound events, and out to files.

:mod:`~earmark.inference.postprocess` turns frame scores into events (median filter, hysteresis
thresholds, gap merging, minimum duration; :class:`PostProcessing`, :func:`decode_events`) and
tunes those settings per class on held-out recordings (:func:`tune_postprocessing`);
:mod:`~earmark.inference.outputs` writes events as CSV, Parquet, Audacity label files or Raven
selection tables (:func:`events_table`, :func:`write_events`) and frame scores in
sed_scores_eval's layout (:func:`write_frame_scores`, :func:`score_dataframe`);
:mod:`~earmark.inference.segment` cuts each event into its own WAV file with a manifest that
:func:`earmark.data.load_dataset` reads (:func:`segment_events`).
"""

from .outputs import EVENT_FORMATS, events_table, score_dataframe, write_events, write_frame_scores
from .postprocess import PostProcessing, decode_events, tune_postprocessing
from .segment import segment_events

__all__ = ["PostProcessing", "decode_events", "tune_postprocessing", "EVENT_FORMATS",
           "events_table", "write_events", "write_frame_scores", "score_dataframe",
           "segment_events"]
