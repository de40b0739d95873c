"""Errors as JSON (`ErrorBody`): every refusal says what was wrong in a sentence and a code.

Routes raise `ApiError(status, code, message)`; FastAPI's validation errors (422), Starlette's
404/405 and anything unexpected (500, which bad input must never reach) are rendered the same.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from hedgemesh.api.domain.views import ErrorBody

__all__ = [
    "BAD_BODY",
    "CONFLICT",
    "ERROR_RESPONSES",
    "FORBIDDEN",
    "NOT_FOUND",
    "UNAVAILABLE",
    "ApiError",
    "install_error_handlers",
]

log = logging.getLogger(__name__)

_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "INVALID_REQUEST",
    429: "TOO_MANY_REQUESTS",
    503: "UNAVAILABLE",
}

#: What every route may answer besides its success (for the OpenAPI document).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {
        "model": ErrorBody,
        "description": "No bearer token, or not one of the API's (`WWW-Authenticate: Bearer`).",
    },
    422: {"model": ErrorBody, "description": "Invalid path, query or body."},
    429: {
        "model": ErrorBody,
        "description": "Over the token's rate limit; `Retry-After` says when to retry (s).",
    },
}
BAD_BODY: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The body is not JSON (cannot be parsed)."}
}
FORBIDDEN: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorBody, "description": "The token's role may not do this."}
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "Unknown underlying (or limit)."}
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "Refused: changed concurrently, or by the manager."}
}
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorBody, "description": "NATS, the store or the manager is unreachable."}
}


class ApiError(Exception):
    """A refusal with an HTTP status, a machine-readable code and a message."""

    def __init__(self, status: int, message: str, *, code: str | None = None, detail: Any = None):
        super().__init__(message)
        self.status = status
        self.code = code or _CODES.get(status, "ERROR")
        self.message = message
        self.detail = detail


def error_response(
    status: int,
    code: str,
    message: str,
    detail: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorBody(error=code, message=message, detail=jsonable_encoder(detail))
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "request"


def _validation_message(errors: list[dict[str, Any]]) -> str:
    parts = [f"{_where(tuple(e.get('loc', ())))}: {e.get('msg', 'invalid')}" for e in errors[:5]]
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return "; ".join(parts) + more


def install_error_handlers(app: FastAPI) -> None:
    async def api_error(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, ApiError)
        return error_response(error.status, error.code, error.message, error.detail)

    async def invalid(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        errors = [
            {key: value for key, value in e.items() if key in ("type", "loc", "msg")}
            for e in error.errors()
        ]
        return error_response(422, "INVALID_REQUEST", _validation_message(errors), errors)

    async def http_error(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, HTTPException)
        response = error_response(
            error.status_code, _CODES.get(error.status_code, "ERROR"), str(error.detail)
        )
        if error.headers:
            response.headers.update(error.headers)
        return response

    async def unexpected(_request: Request, error: Exception) -> JSONResponse:
        log.exception("api: unexpected error", exc_info=error)
        return error_response(500, "INTERNAL_ERROR", f"{type(error).__name__}: {error}")

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
