"""earmark stream MODEL: score live audio every hop, from a microphone, a pipe or a file.

    earmark stream model.earmark                                   # the default microphone
    arecord -f S16_LE -r 16000 -c 1 -t raw | earmark stream model.earmark --input - --rate 16000
    earmark stream model.earmark --input day.wav --realtime        # a file paced as if live
    earmark stream model.earmark --hop 0.25 --smooth 4 --out events.jsonl

The view (current top labels with bars and the last events) is drawn in place on a terminal
and printed as plain lines elsewhere; ``--out`` writes JSON lines (one object per hop, one per
event, a summary last), flushed line by line, to a file or to stdout (``-``). The end of the
input ends the stream (exit 0); Ctrl-C or SIGTERM closes the open events at the current time,
writes them and the summary, and exits with status 130.
"""

import sys

from ._options import add_command

HELP = "classify, tag, detect or flag sounds live: from a microphone, a pipe or a file"
DESCRIPTION = (HELP + ". Every hop the newest complete window is scored, the last --smooth "
               "scores are averaged, and events are found with detection's hysteresis. A "
               "live source (the microphone, --realtime, --live) never waits for the model: "
               "a model slower than the hop skips hops and counts them (dropped). The end of "
               "the input exits 0; Ctrl-C or SIGTERM writes the open events and the summary "
               "and exits 130.")


def add_parser(subparsers):
    from ..streaming.sources import PIPE_FORMATS

    s = add_command(subparsers, "stream", HELP)
    s.description = DESCRIPTION
    s.add_argument("model", nargs="?", help="the model file (not needed with --list-devices)")
    g = s.add_argument_group("input")
    g.add_argument("--input", default=None, metavar="SOURCE",
                   help="'-' reads stdin (raw samples, see --format and --rate, or a WAV "
                   "stream), a path streams that audio file; default: the microphone")
    g.add_argument("--rate", type=int, default=None, metavar="HZ",
                   help="sample rate of raw samples on stdin (resampled to the model's rate); "
                   "with the microphone, the rate to open it at")
    g.add_argument("--format", default=None, choices=PIPE_FORMATS,
                   help="stdin's samples: s16le (default for raw), s32le, f32le, or wav "
                   "(default when the stream starts with a RIFF header)")
    g.add_argument("--channels", type=int, default=1, help="interleaved channels of raw "
                   "samples on stdin (mixed to mono)")
    g.add_argument("--device", default=None, help="microphone: a device index or part of its "
                   "name (earmark stream --list-devices shows them)")
    g.add_argument("--list-devices", action="store_true", help="list the input devices and exit")
    g.add_argument("--realtime", action="store_true", help="pace a file as if it were live "
                   "(hops may then be dropped, as with a microphone)")
    g.add_argument("--live", action="store_true", help="stdin is a live capture (arecord, "
                   "ffmpeg from a device): never wait for the model, drop hops when it is slow; "
                   "without it every hop of stdin is scored")
    g.add_argument("--seconds", type=float, default=None, help="stop after this much audio")
    g = s.add_argument_group("scoring")
    g.add_argument("--hop", type=float, default=None, metavar="S",
                   help="seconds between scored windows (default: a quarter of the model's "
                   "window; a detector's is rounded to whole frames)")
    g.add_argument("--smooth", type=int, default=1, metavar="N",
                   help="average the last N scores before deciding (default 1: none)")
    g.add_argument("--threshold", type=float, default=None, help="event onset threshold for "
                   "every class (default: the model's; 0.5 for a classifier); a novelty "
                   "model: the anomaly score above which a window is flagged")
    g.add_argument("--offset-threshold", type=float, default=None,
                   help="where an event ends (hysteresis; default: the onset threshold, or a "
                   "detector's own)")
    g.add_argument("--threads", type=int, default=1, help="torch threads (default 1: one "
                   "window at a time is fastest on one thread, and leaves the other cores "
                   "free)")
    g = s.add_argument_group("output")
    g.add_argument("--out", default=None, metavar="FILE",
                   help="JSON lines: one object per hop, per event and a summary; '-' for "
                   "stdout. A file is written as the stream goes (a reader can follow it)")
    g.add_argument("--events-only", action="store_true",
                   help="JSON lines and plain lines: events and the summary, no hop lines")
    g.add_argument("--view", default="auto", choices=("auto", "live", "plain", "none"),
                   help="auto (default): live on a terminal, plain lines elsewhere; on stderr "
                   "when --out is '-'")
    s.set_defaults(func=run)
    return s


def run(args):
    from ..streaming.sources import input_devices

    if args.list_devices:
        devices = input_devices()
        if not devices:
            print("no input devices (PortAudio sees none)")
        for index, name, rate in devices:
            print(f"{index:3d}  {name}  ({rate:g} Hz)")
        return 0
    from .._io import check_output_path
    from ..errors import ParameterError
    from ..estimators import load
    from ..streaming import StreamScorer, open_source, run_stream
    from .predict import _sigterm_as_interrupt

    if args.model is None:
        raise ParameterError("stream: give the model file (earmark stream MODEL ...)")

    if args.threads is not None and args.threads < 1:
        raise ParameterError(f"--threads must be at least 1; got {args.threads}")
    if args.seconds is not None and not args.seconds > 0:
        raise ParameterError(f"--seconds must be positive; got {args.seconds}")
    if args.out not in (None, "-"):
        inputs = [(args.model, "the model file")]
        if args.input not in (None, "-", "mic"):
            inputs.append((args.input, "the input"))
        check_output_path(args.out, inputs=inputs, owner="--out")
    model = load(args.model)
    import torch
    torch.set_num_threads(args.threads)
    scorer = StreamScorer(model, hop_s=args.hop, smooth=args.smooth, threshold=args.threshold,
                          offset_threshold=args.offset_threshold)
    source = open_source(args.input, sample_rate=args.rate, format=args.format,
                         channels=args.channels, realtime=args.realtime, live=args.live,
                         device=args.device, preferred_rate=scorer.sample_rate)
    sinks, out_file = _sinks(args, scorer, source)
    if not args.quiet:
        print(f"earmark: streaming {source.name} ({source.sample_rate} Hz) through "
              f"{args.model}: a {scorer.kind}, {scorer.window_samples / scorer.sample_rate:g}-s "
              f"window every {scorer.hop_s:g} s" + (f", smoothed over {args.smooth}"
                                                    if args.smooth > 1 else ""),
              file=sys.stderr)
    with _sigterm_as_interrupt():
        summary = run_stream(scorer, source, sinks, max_seconds=args.seconds)
    if out_file is not None and not args.quiet:
        print(f"wrote {args.out}: {summary['hops']} hops", file=sys.stderr)
    if summary["dropped"]:
        print(f"earmark: warning: {summary['dropped']} of {summary['hops'] + summary['dropped']} "
              "hops were dropped: scoring fell behind the live input (a model slower than "
              "the hop, or audio that waited while earmark started); a longer --hop or more "
              "--threads helps the first", file=sys.stderr)
    if summary.interrupted:
        return 130
    return 0


def _sinks(args, scorer, source):
    """JSON lines (``--out``) and the view, each where it belongs."""
    from ..streaming import JsonLinesSink, PlainView, TerminalView

    sinks, out_file = [], None
    hops = not args.events_only
    if args.out == "-":
        sinks.append(JsonLinesSink(sys.stdout, hops=hops))
        view_stream = sys.stderr
    else:
        if args.out is not None:
            out_file = open(args.out, "w", encoding="utf-8")
            sinks.append(JsonLinesSink(out_file, hops=hops, close_stream=True))
        view_stream = sys.stdout
    view = args.view
    if args.quiet:
        view = "none"
    if view == "auto":
        on_tty = view_stream.isatty()
        if args.out == "-" and not on_tty:
            view = "none"       # stdout carries the JSON; stderr keeps errors only
        else:
            view = "live" if on_tty else "plain"
    if view == "live":
        title = (f"earmark stream: {args.model} ({scorer.kind}) <- {source.name}, hop "
                 f"{scorer.hop_s:g} s")
        sinks.append(TerminalView(view_stream, title=title))
    elif view == "plain":
        sinks.append(PlainView(view_stream, hops=hops))
    return sinks, out_file
