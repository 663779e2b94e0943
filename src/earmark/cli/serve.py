"""earmark serve MODEL... [--host 127.0.0.1] [--port 8000] [--token-file FILE]: the HTTP service
and its page over model files.

Models are loaded once, before the server starts; each is named after its file's stem
(``drums.earmark`` -> ``/v1/models/drums``). The service binds to 127.0.0.1 unless told
otherwise; with a token (``--token-file`` or ``$EARMARK_SERVE_TOKEN``) every model endpoint
needs ``Authorization: Bearer <token>``. docs/serve.md tells the endpoints and limits.
"""

import ipaddress
import os
import sys

from ._options import add_command

HELP = "serve models over HTTP (JSON API, OpenAPI docs at /docs, a web page at /)"


def add_parser(subparsers):
    s = add_command(subparsers, "serve", HELP)
    s.description = (HELP + ". Binds to 127.0.0.1 unless --host says otherwise; put it behind a "
                     "reverse proxy for TLS. The bearer token is read from --token-file or "
                     "$EARMARK_SERVE_TOKEN.")
    s.add_argument("models", nargs="+", metavar="MODEL", help="model files (.earmark); each is "
                   "served under its file's stem")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    s.add_argument("--token-file", metavar="FILE", default=None, help="a file whose first line "
                   "is the bearer token (at least 16 characters)")
    g = s.add_argument_group("limits")
    g.add_argument("--max-upload-mb", type=float, default=50.0, help="largest upload (50)")
    g.add_argument("--max-duration-s", type=float, default=600.0,
                   help="longest audio, from its header (600)")
    g.add_argument("--workers", type=int, default=2, help="requests scored at once (2)")
    g.add_argument("--queue", type=int, default=32,
                   help="requests that may wait for a worker; beyond it 503 (32)")
    g.add_argument("--threads", type=int, default=None, help="torch threads (default: CPU "
                   "cores / workers)")
    s.set_defaults(func=run)
    return s


def _loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(args):
    import logging

    import torch
    try:
        import uvicorn

        from ..serve import ServeLimits, create_app, load_models, read_token
    except ImportError as exc:       # fastapi, uvicorn or python-multipart missing
        raise SystemExit(f"earmark serve: needs the optional extra 'serve' ({exc.name} is not "
                         "installed): pip install 'earmark[serve]'") from None

    limits = ServeLimits(max_upload_mb=args.max_upload_mb, max_duration_s=args.max_duration_s,
                         workers=args.workers, queue=args.queue)
    if not 1 <= args.port <= 65535:
        raise SystemExit(f"earmark serve: --port {args.port}: must be in [1, 65535]")
    token = read_token(args.token_file)
    for path in args.models:
        if not os.path.isfile(path):
            raise SystemExit(f"earmark serve: {path}: model file not found")
    models = load_models(args.models)
    threads = args.threads or max(1, (os.cpu_count() or 1) // limits.workers)
    torch.set_num_threads(threads)
    if not _loopback(args.host) and token is None:
        print(f"earmark: warning: serving on {args.host} without a token: anyone who can reach "
              "this address can use the models; give --token-file", file=sys.stderr)
    log = logging.getLogger("earmark.serve")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    app = create_app(models, token=token, limits=limits)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"earmark: serving {', '.join(models)} on http://{shown}:{args.port}/ "
          f"(API docs /docs){' with a bearer token' if token else ''}; Ctrl-C stops",
          file=sys.stderr, flush=True)
    # uvicorn's own bound on connections and tasks: well above the queue, so the queue's
    # 503 (with its message) answers first, yet a flood of idle connections stays bounded
    uvicorn.run(app, host=args.host, port=args.port, access_log=False, log_level="warning",
                limit_concurrency=4 * (limits.workers + limits.queue) + 64,
                timeout_graceful_shutdown=10, server_header=False)
    return 0
