"""Datasets: reading folders and manifests, validation, folds, inspection."""

from .annotations import clip_events, label_sets_from_annotations, read_annotations
from .dataset import MANIFEST_NAMES, Dataset, load_dataset
from .folds import cv_splits, validation_split
from .inspect import inspect_dataset
from .loading import load_clips
from .sources import Source, expand_sources
from .validate import find_problems, validate_dataset

__all__ = ["Dataset", "load_dataset", "MANIFEST_NAMES", "cv_splits", "validation_split",
           "inspect_dataset", "find_problems", "validate_dataset", "load_clips",
           "Source", "expand_sources", "read_annotations", "label_sets_from_annotations",
           "clip_events"]
