"""Datasets: reading folders, manifests and strong labels (DCASE tables, Audacity, Raven),
validation, folds, inspection."""

from .annotations import clip_events, label_sets_from_annotations, read_annotations
from .dataset import MANIFEST_NAMES, Dataset, load_dataset
from .folds import cv_splits, validation_split
from .inspect import inspect_dataset
from .loading import load_clips
from .sources import Source, expand_sources
from .strong_labels import (check_dataset_events, check_events, find_label_files,
                            read_audacity_labels, read_raven_table, read_strong_labels,
                            validate_events)
from .validate import find_problems, validate_dataset

__all__ = ["Dataset", "load_dataset", "MANIFEST_NAMES", "cv_splits", "validation_split",
           "inspect_dataset", "find_problems", "validate_dataset", "load_clips",
           "Source", "expand_sources", "read_annotations", "label_sets_from_annotations",
           "clip_events", "read_audacity_labels", "read_raven_table", "find_label_files",
           "read_strong_labels", "check_events", "validate_events", "check_dataset_events"]
