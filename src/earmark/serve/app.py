"""The FastAPI application: model listing, prediction on uploads, health, metrics, the page.

Everything a request may cost is bounded (:class:`~earmark.serve.limits.ServeLimits`); every
error a client can cause is a 4xx with earmark's message; scoring runs on worker threads.
"""

import logging
import os
import re
import shutil
import tempfile
import time
from contextlib import asynccontextmanager
from importlib.resources import files

from fastapi import Depends, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.requests import ClientDisconnect

from ..errors import EarmarkError, ParameterError
from .answers import answer, describe, spectrogram
from .auth import token_matches
from .limits import Admission, QueueFull, ServeLimits
from .metrics import Metrics
from .uploads import UploadError, receive

__all__ = ["create_app", "MODEL_NAME", "LOGGER"]

#: What a model name may look like (it comes from the model file's name).
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
#: The logger of the one line per request.
LOGGER = logging.getLogger("earmark.serve")
_STATIC = files("earmark.serve") / "static"
# the page loads nothing from elsewhere; the browser is told so too
_PAGE_CSP = ("default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
             "connect-src 'self'; style-src 'self'; script-src 'self'; object-src 'none'; "
             "base-uri 'none'; frame-ancestors 'none'")

_UPLOAD_DOC = {
    "requestBody": {"required": True, "content": {
        "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
            "file": {"type": "string", "format": "binary",
                     "description": "an audio file (WAV, FLAC, OGG, MP3, AIFF ...)"}}}},
        "application/octet-stream": {"schema": {"type": "string", "format": "binary",
                                                "description": "raw PCM, signed 16-bit "
                                                "little-endian, interleaved; give ?rate="}}}},
    "responses": {"401": {"description": "missing or wrong bearer token"},
                  "404": {"description": "no model of that name"},
                  "413": {"description": "upload too large or audio too long"},
                  "415": {"description": "content type not accepted"},
                  "422": {"description": "the audio cannot be used (earmark's message)"},
                  "503": {"description": "the queue is full; retry after Retry-After s"}},
}


def _check_models(models):
    if not isinstance(models, dict) or not models:
        raise ParameterError("create_app: models must be a non-empty dict of name -> "
                             f"estimator; got {type(models).__name__}")
    for name in models:
        if not isinstance(name, str) or not MODEL_NAME.match(name):
            raise ParameterError(f"create_app: model name {name!r} must be 1-64 letters, digits, "
                                 "'.', '_' or '-' (starting with a letter or digit)")
    return dict(models)


class _RequestLog:
    """One log line and the metrics per request, never the audio; every response gets
    ``X-Content-Type-Options: nosniff``. (Plain ASGI, so request bodies stream through
    untouched.)"""

    def __init__(self, app, *, metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.perf_counter()
        status = [500]
        state = scope.setdefault("state", {})

        async def send_status(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [
                    (b"x-content-type-options", b"nosniff")]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            latency = time.perf_counter() - t0
            model, audio_s = state.get("model"), state.get("audio_s")
            self.metrics.observe(model=model, status=status[0], latency_s=latency,
                                 audio_s=audio_s)
            path = scope.get("path", "")
            shown = path if len(path) <= 120 and path.isprintable() else "<odd path>"
            LOGGER.info("%s %s %s model=%s audio_s=%s latency_ms=%.1f status=%d",
                        time.strftime("%Y-%m-%dT%H:%M:%S%z"), scope.get("method", "-"),
                        shown.replace(" ", "%20"), model or "-",
                        "-" if audio_s is None else f"{audio_s:.3f}", latency * 1e3, status[0])


def create_app(models, *, token=None, limits=None):
    """The service as an ASGI application (run it with uvicorn, or test it with FastAPI's
    TestClient).

    Parameters
    ----------
    models : dict
        Model name -> fitted estimator (from :func:`earmark.load`); the names are fixed here.
        :func:`earmark.serve.load_models` makes it from model files.
    token : str or None
        When given, every model endpoint and ``/metrics`` need ``Authorization: Bearer
        <token>`` (compared in constant time); else 401.
    limits : ServeLimits or None
        Upload size, duration, sample rates, workers and queue (defaults: ``ServeLimits()``).

    Examples
    --------
    >>> from fastapi.testclient import TestClient                     # doctest: +SKIP
    >>> app = create_app({"drums": earmark.load("drums.earmark")})    # doctest: +SKIP
    >>> with TestClient(app) as client:                                 # doctest: +SKIP
    ...     with open("kick.wav", "rb") as f:
    ...         client.post("/v1/models/drums/predict", files={"file": f}).json()["label"]
    'kick'
    """
    models = _check_models(models)
    limits = ServeLimits() if limits is None else limits
    if not isinstance(limits, ServeLimits):
        raise ParameterError(f"create_app: limits must be a ServeLimits; got "
                             f"{type(limits).__name__}")
    if token is not None and (not isinstance(token, str) or not token):
        raise ParameterError("create_app: token must be a non-empty string or None")
    described = {name: describe(name, est) for name, est in models.items()}
    admission = Admission(limits)
    metrics = Metrics()
    state = {"folder": None, "ready": False}

    @asynccontextmanager
    async def lifespan(app):
        # a private folder (0700) for uploads; each file in it is removed after its request,
        # the folder when the service stops
        state["folder"] = tempfile.mkdtemp(prefix="earmark-serve-")
        state["ready"] = True
        try:
            yield
        finally:
            state["ready"] = False
            shutil.rmtree(state["folder"], ignore_errors=True)

    # FastAPIOffline: FastAPI whose /docs (Swagger UI) and /redoc load their scripts from the
    # service itself (/static-offline-docs), not from a CDN, so they work offline too
    app = FastAPIOffline(title="earmark", version=_version(), lifespan=lifespan,
                  description="Sound classification, tagging, event detection and novelty "
                  "detection with earmark models. Model endpoints need `Authorization: Bearer "
                  "<token>` when the service was started with a token.")
    app.state.folder = lambda: state["folder"]
    app.state.admission = admission
    app.state.models = models

    @app.exception_handler(RequestValidationError)
    async def invalid_parameters(request, exc):
        # one message shape for every 4xx: {"detail": "<text>"}
        parts = []
        for e in exc.errors()[:5]:
            where = ".".join(str(x) for x in e.get("loc", ())[1:]) or "request"
            parts.append(f"{where}: {e.get('msg', 'invalid')}")
        return JSONResponse({"detail": "; ".join(parts)}, status_code=422)

    # the handlers that do not score are coroutines: no thread hop, and none waits behind
    # the scoring threads
    async def authorised(request: Request):
        if token is not None and not token_matches(request.headers.get("authorization"),
                                                   token):
            raise HTTPException(401, "missing or wrong bearer token (Authorization: Bearer "
                                "<token>)", headers={"WWW-Authenticate": "Bearer"})

    def model_named(name, request):
        if name not in models:
            raise HTTPException(404, f"no model of that name; the models are: "
                                f"{', '.join(models)}")
        request.state.model = name
        return models[name]

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(str(_STATIC / "index.html"), headers={
            "Content-Security-Policy": _PAGE_CSP, "Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=str(_STATIC)), name="static")

    @app.get("/health", summary="liveness: the process answers")
    async def health():
        return {"status": "ok"}

    @app.get("/ready", summary="readiness: models loaded and room in the queue")
    async def ready():
        room = admission.in_flight < admission.capacity
        body = {"status": "ready" if state["ready"] and room else "busy",
                "models": list(models), "in_flight": admission.in_flight,
                "capacity": admission.capacity}
        return JSONResponse(body, status_code=200 if state["ready"] and room else 503)

    @app.get("/v1/models", dependencies=[Depends(authorised)],
             summary="the models: task, classes, sample rate, window, licence")
    async def list_models():
        return {"models": list(described.values()), "limits": limits.to_dict()}

    @app.get("/v1/models/{name}", dependencies=[Depends(authorised)],
             summary="one model: task, classes, sample rate, window, licence")
    async def one_model(name: str, request: Request):
        model_named(name, request)
        return described[name]

    @app.post("/v1/models/{name}/predict", dependencies=[Depends(authorised)],
              summary="the model's answer for an uploaded file or a raw PCM body",
              openapi_extra=_UPLOAD_DOC)
    async def predict(name: str, request: Request,
                      windows: bool = Query(False, description="also every window's scores "
                                            "(detection: frame scores; novelty: anomalous "
                                            "stretches)"),
                      spectrogram_: bool = Query(False, alias="spectrogram",
                                                 description="also a small log-mel image "
                                                 "(for the page)"),
                      rate: int | None = Query(None, description="raw PCM: sample rate (Hz)"),
                      channels: int = Query(1, description="raw PCM: interleaved channels")):
        est = model_named(name, request)
        try:
            with admission:
                async with receive(request, folder=state["folder"], limits=limits, rate=rate,
                                   channels=channels) as upload:
                    request.state.audio_s = upload.info.duration_s
                    result = await admission.run(_score, est, upload, windows, spectrogram_,
                                                 limits)
        except QueueFull:
            return JSONResponse({"detail": f"busy: {admission.capacity} requests are already "
                                 "queued or running; retry shortly"}, status_code=503,
                                headers={"Retry-After": "1"})
        except UploadError as exc:
            return JSONResponse({"detail": exc.message}, status_code=exc.status,
                                headers=exc.headers)
        except ClientDisconnect:
            return JSONResponse({"detail": "the client went away"}, status_code=400)
        return {"model": name, "task": described[name]["task"], **result}

    @app.get("/metrics", dependencies=[Depends(authorised)], response_class=PlainTextResponse,
             summary="Prometheus metrics: requests, errors, latency histogram")
    async def prometheus():
        return PlainTextResponse(metrics.render(in_flight=admission.in_flight,
                                                capacity=admission.capacity,
                                                rejected=admission.rejected),
                                 media_type="text/plain; version=0.0.4")

    # outermost, so 401s, 404s and 503s are logged and counted too
    app.add_middleware(_RequestLog, metrics=metrics)
    return app


def _score(est, upload, windows, with_spectrogram, limits):
    """On a worker thread: the answer, with the private path in messages replaced by the
    upload's name."""
    try:
        out = {"file": upload.name, "duration_s": round(upload.info.duration_s, 6),
               "sample_rate": upload.info.sample_rate, "channels": upload.info.channels,
               **answer(est, upload.path, windows=windows)}
        if with_spectrogram:
            out["spectrogram"] = spectrogram(est, upload.path, max_s=limits.spectrogram_max_s)
    except (EarmarkError, OSError) as exc:
        raise UploadError(422, upload.message(exc)) from None
    return out


def _version():
    from .. import __version__
    return __version__


def load_models(paths):
    """Model name -> estimator for model files; the name is the file's stem
    (``drums.earmark`` -> ``drums``).

    Raises
    ------
    ParameterError
        Two files with the same stem, or a stem that is not a valid name.
    ModelFileError
        A file is not a readable model file.

    Examples
    --------
    >>> models = load_models(["drums.earmark", "birds.earmark"])   # doctest: +SKIP
    >>> sorted(models)                                             # doctest: +SKIP
    ['birds', 'drums']
    """
    from ..estimators import load

    seen = {}
    for path in paths:
        name = os.path.basename(os.fspath(path))
        name = name[:-len(".earmark")] if name.endswith(".earmark") else \
            os.path.splitext(name)[0]
        if not MODEL_NAME.match(name):
            raise ParameterError(f"{path}: the model name {name!r} (from the file name) must be "
                                 "1-64 letters, digits, '.', '_' or '-'; rename the file")
        if name in seen:
            raise ParameterError(f"{path}: another model file is also named {name!r} "
                                 f"({seen[name]}); model names come from file names and must "
                                 "differ: rename one")
        seen[name] = path
    return {name: load(path) for name, path in seen.items()}
