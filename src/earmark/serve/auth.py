"""Bearer-token authentication: the token from a file or the environment, compared in constant
time."""

import hmac
import os

from ..errors import ParameterError

__all__ = ["TOKEN_ENV", "read_token", "token_matches"]

#: Environment variable holding the token when no token file is given.
TOKEN_ENV = "EARMARK_SERVE_TOKEN"

_MIN_TOKEN_CHARS = 16


def read_token(path=None, *, environ=None):
    """The token from ``path`` (its first line, stripped) or else from ``$EARMARK_SERVE_TOKEN``;
    None when neither is given.

    Raises
    ------
    ParameterError
        The file cannot be read, or the token is shorter than 16 characters or holds
        whitespace.

    Examples
    --------
    >>> read_token(environ={"EARMARK_SERVE_TOKEN": "s3cret-s3cret-s3cret"})
    's3cret-s3cret-s3cret'
    """
    environ = os.environ if environ is None else environ
    if path is not None:
        try:
            with open(path, encoding="utf-8") as f:
                token = f.readline().strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ParameterError(f"{path}: cannot read the token file ({exc})") from None
        where = str(path)
    elif environ.get(TOKEN_ENV):
        token, where = environ[TOKEN_ENV].strip(), f"${TOKEN_ENV}"
    else:
        return None
    if len(token) < _MIN_TOKEN_CHARS or any(c.isspace() for c in token):
        raise ParameterError(f"{where}: the token must be at least {_MIN_TOKEN_CHARS} "
                             "characters without whitespace (e.g. from "
                             "'python -c \"import secrets; print(secrets.token_urlsafe(32))\"')")
    return token


def token_matches(header, token):
    """True when an ``Authorization`` header value carries ``token`` (constant-time compare)."""
    if not header:
        return False
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode("utf-8", "replace"),
                               token.encode("utf-8"))
