"""Exporting trained models to runtimes without earmark: ONNX (and LiteRT where it installs).

export_onnx        one ``.onnx`` file: waveform windows in, window scores out; the front end,
                   normalisation, network and activation inside, the decision settings
                   (labels, task, sample rate, windows, aggregation, thresholds) in its metadata
read_metadata      those settings read back from an exported file
onnx_session       an onnxruntime CPU session with earmark's settings
ExportFrontEnd     the log-mel front end as plain matrix products (no STFT operator)
export_litert      (earmark.export.litert) a ``.tflite`` file and its int8 variant, where the
                   optional ``litert-torch`` converter is installed

See ``docs/export.md``.
"""

from .frontend import ExportFrontEnd
from .onnx import export_onnx, onnx_session, read_metadata

__all__ = ["export_onnx", "read_metadata", "onnx_session", "ExportFrontEnd"]
