"""Errors as ``application/problem+json`` (RFC 9457), each naming what was wrong and, for a parameter, which."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.models import InvalidParam, ProblemDetails

PROBLEM_JSON = "application/problem+json"

TITLES = {
    400: "Bad request",
    401: "API key missing or invalid",
    403: "Not allowed for this key's role",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    413: "Content too large",
    422: "Invalid parameter",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}


class Problem(Exception):
    """An error answer: status, a one-line detail for people, and the parameter at fault if there is one."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        param: str | None = None,
        reason: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.param = param
        self.reason = reason or detail
        self.headers = headers or {}


def problem_response(
    status: int,
    detail: str,
    *,
    request: Request,
    invalid: list[InvalidParam] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The problem+json answer for ``status``."""
    body = ProblemDetails(
        type="about:blank",
        title=TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        instance=request.url.path,
        invalid_params=invalid or [],
    )
    return JSONResponse(
        body.model_dump(), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    invalid = [InvalidParam(name=exc.param, reason=exc.reason)] if exc.param else None
    return problem_response(exc.status, exc.detail, request=request, invalid=invalid, headers=exc.headers)


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers) if exc.headers else None
    return problem_response(exc.status_code, str(exc.detail), request=request, headers=headers)


def _param_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("query", "path", "header", "body", "cookie"):
        parts = parts[1:]
    return ".".join(parts) or "request"


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    invalid = [InvalidParam(name=_param_name(tuple(e["loc"])), reason=str(e["msg"])) for e in exc.errors()]
    detail = "; ".join(f"{p.name}: {p.reason}" for p in invalid) or "invalid request"
    return problem_response(422, detail, request=request, invalid=invalid)


def install(app: FastAPI) -> None:
    """Answer every error of ``app`` as problem+json."""
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(RequestValidationError, _on_validation)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for error answers of a route (problem+json with :class:`ProblemDetails`)."""
    return {
        status: {
            "description": TITLES.get(status, "Error"),
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}},
        }
        for status in statuses
    }
