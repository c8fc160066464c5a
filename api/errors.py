"""The API's error bodies, what a 422 says, and each route's error codes for OpenAPI."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel


class ErrorBody(BaseModel):
    detail: str  # what is wrong and how to fix it


class Problem(BaseModel):
    loc: list[str | int]  # where: "body", "query" or "path", then the field's path
    msg: str
    type: str  # pydantic's error type, e.g. "string_too_long"


class ValidationErrorBody(BaseModel):
    detail: list[Problem]
    message: str  # one line naming each bad field: "body.events.0.ts: ...; query.k: ..."


ERROR_CODES: dict[int, str] = {
    400: "the body could not be read as JSON (not UTF-8, nested too deeply, a huge integer)",
    401: "no X-API-Key sent where one is needed, or this server has no key that may do this",
    403: "the X-API-Key is not one of this server's keys, or may not do this",
    404: "an unknown user, item, category, brand or attribute; the detail names each",
    413: "the request body is over KGREC_API_MAX_BODY_BYTES",
    422: "a bad parameter or body; `message` names each bad field",
    429: "too many requests from this API key or address; retry after Retry-After seconds",
    503: "Neo4j is unreachable (nothing was written) or did not answer in time (a write may "
    "still land: sending it again is safe)",
}
CALLER = (401, 403, 429)  # every route but health checks: keys and rate limits (api.main)
BODY = (400, 413, 422)  # what a route that reads a JSON body can answer


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for these error codes, each with its body's schema."""
    return {
        code: {
            "model": ValidationErrorBody if code == 422 else ErrorBody,
            "description": ERROR_CODES[code],
        }
        for code in codes
    }


def validation_body(errors: Sequence[Any]) -> ValidationErrorBody:
    """The 422 body for FastAPI's validation errors. The rejected input is not echoed back: it
    may be huge or not encodable as JSON (NaN, a lone surrogate, raw bytes). `loc` and `msg`
    always are: pydantic writes them as Rust strings (a lone surrogate becomes U+FFFD)."""
    problems = []
    for error in errors:
        msg = error["msg"]
        if error["type"] == "json_invalid":  # "JSON decode error" alone does not say where
            msg = f"not valid JSON: {error['ctx']['error']} at character {error['loc'][-1]}"
        problems.append(Problem(loc=list(error["loc"]), msg=msg, type=error["type"]))
    message = "; ".join(
        f"{'.'.join(str(part) for part in problem.loc)}: {problem.msg}" for problem in problems
    )
    return ValidationErrorBody(detail=problems, message=message)


def unreadable_body(cause: BaseException | None) -> str | None:
    """Why FastAPI could not read a body as JSON, which it answers with a bare 400 "There was
    an error parsing the body"; None for any other cause."""
    if isinstance(cause, UnicodeDecodeError):
        return (
            f"the body is not UTF-8 text ({cause.reason} at byte {cause.start}); "
            "send JSON encoded as UTF-8"
        )
    if isinstance(cause, RecursionError):
        return "the JSON body is nested too deeply to read"
    if isinstance(cause, ValueError):  # the only other: Python's cap on an integer's digits
        return f"the JSON body holds an integer of over {sys.get_int_max_str_digits()} digits"
    return None
