"""The HTTP service and its web page (``earmark serve``; the optional extra ``earmark[serve]``).

    create_app       the FastAPI application over loaded estimators (a dict name -> estimator)
    load_models      model files -> that dict, named after the files' stems
    ServeLimits      upload size, audio duration, sample rates, workers and queue bound
    read_token       the bearer token from a file or ``$EARMARK_SERVE_TOKEN``

Endpoints: ``GET /v1/models``, ``GET /v1/models/{name}``, ``POST /v1/models/{name}/predict``
(multipart field ``file``, or raw s16le PCM with ``?rate=``), ``/health``, ``/ready``,
``/metrics`` (Prometheus), ``/docs`` (OpenAPI) and the page at ``/``. docs/serve.md tells the
rest.
"""

from .app import create_app, load_models
from .auth import TOKEN_ENV, read_token
from .limits import ServeLimits

__all__ = ["create_app", "load_models", "ServeLimits", "read_token", "TOKEN_ENV"]
