"""JSON answers serialized once.

A route that returns a model has FastAPI validate it again against the route's response model and encode the
result a second time; for answers of hundreds of rows, building a pydantic model per row and that second pass
cost more than the query. Routes with long answers build plain rows named like the fields of their documented
model (:mod:`api.models`) and answer with :func:`json_answer`; the model stays the route's ``response_model``
(the OpenAPI document), and the tests validate these answers against it. No web framework beyond the response.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import orjson
from fastapi import Response
from pydantic import BaseModel

JSON = "application/json"

T = TypeVar("T")


def first_accepted(accept: str | None, offered: Mapping[str, T], default: T) -> T:
    """What the first media type of an ``Accept`` header that ``offered`` knows maps to, else ``default``.

    The header's order decides (quality values are not weighed); ``*/*`` and unknown types are passed over.
    """
    for part in (accept or "").split(","):
        media = part.split(";")[0].strip().lower()
        if media in offered:
            return offered[media]
    return default


def json_answer(content: BaseModel | Mapping[str, Any], *, headers: Mapping[str, str] | None = None) -> Response:
    """A 200 answer of ``content``: a model (serialized by pydantic) or plain rows (by orjson; NaN as null)."""
    body = content.model_dump_json().encode() if isinstance(content, BaseModel) else orjson.dumps(content)
    return Response(body, media_type=JSON, headers=headers)
