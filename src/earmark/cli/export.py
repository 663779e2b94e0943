"""earmark export MODEL --format onnx|tflite --out FILE: a model for runtimes without earmark.

The file is checked against the model (the runtime's scores on test windows must equal the
model's own) before it is written, atomically: a failed or interrupted export leaves an existing
``--out`` as it was. See docs/export.md.
"""

from ._options import add_command

HELP = "export a model file to ONNX (or LiteRT / TensorFlow Lite): waveform in, scores out"
FORMATS = {"onnx": ".onnx", "tflite": ".tflite"}


def add_parser(subparsers):
    s = add_command(subparsers, "export", HELP)
    s.description = (HELP + ". The front end, normalisation, network and activation are in the "
                     "graph; labels, task, sample rate, windows, aggregation and thresholds are "
                     "in its metadata. Resampling and cutting recordings into windows stay "
                     "outside (docs/export.md has a 30-line script that does both).")
    s.add_argument("model", help="a model file (.earmark)")
    s.add_argument("--format", default="onnx", choices=tuple(FORMATS),
                   help="onnx (default; runs in onnxruntime) or tflite (LiteRT; needs the "
                   "litert-torch package)")
    s.add_argument("--out", required=True, help="the file to write (.onnx or .tflite)")
    s.add_argument("--int8", action="store_true", help="tflite: also quantise the weights to "
                   "int8 (dynamic range) and report the change in scores")
    s.add_argument("--atol", type=float, default=1e-4, help="largest score difference "
                   "allowed between the exported model and the original on the check windows "
                   "(default 1e-4)")
    s.set_defaults(func=run)
    return s


def run(args):
    from .._io import check_output_path
    from ..errors import ParameterError

    suffix = FORMATS[args.format]
    check_output_path(args.out, inputs=[(args.model, "the model file")], owner="--out",
                      suffixes=(suffix,))
    if args.int8 and args.format != "tflite":
        raise ParameterError("--int8 applies to --format tflite only")
    if args.format == "onnx":
        from ..export import export_onnx, read_metadata
        export_onnx(args.model, args.out, atol=args.atol)
        meta = read_metadata(args.out)
        print(f"wrote {args.out}: {meta['task']} model, input (batch, "
              f"{meta['window_samples']}) float32 mono at {meta['sample_rate']} Hz, scores "
              f"for {len(meta['labels'])} classes ({', '.join(meta['labels'][:8])}"
              f"{', ...' if len(meta['labels']) > 8 else ''})")
        return 0
    from ..export.litert import export_litert
    report = export_litert(args.model, args.out, atol=args.atol, int8=args.int8)
    print(f"wrote {args.out}: max |score difference| to the model "
          f"{report['max_abs_diff']:.2g} on {report['n_windows']} check windows")
    if args.int8:
        print(f"wrote {report['int8_path']}: int8 weights, max |score difference| "
              f"{report['int8_max_abs_diff']:.3g}, top class agrees on "
              f"{report['int8_top_agreement']:.0%} of the check windows")
    return 0
