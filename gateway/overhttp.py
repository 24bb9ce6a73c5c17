"""GraphQL over HTTP (the GraphQL Foundation's specification, graphql.github.io/graphql-over-http):
which media type a response is written in, and its status code.

- `Accept` negotiation: `application/graphql-response+json` or `application/json`, the one the
  client ranks highest (q-values; on a tie, the order it lists them). No `Accept`, or only
  `*/*` / `application/*`: `application/json` (what the specification's legacy clients expect).
  An `Accept` naming neither: 406.
- `application/json`: every GraphQL response is 200 (errors are in the body).
- `application/graphql-response+json`: a request error (the document does not parse or
  validate, a variable does not coerce: `data` is null and no error has a `path`) is 400 and the
  response has no `data` entry; a response with a `data` entry is 2xx, even when a field failed.
"""

from __future__ import annotations

from typing import Any

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
SUPPORTED = (GRAPHQL_RESPONSE_JSON, JSON)


class NotAcceptable(Exception):
    """The client's Accept names no media type the gateway writes."""

    message = (f"Type de réponse non pris en charge : indiquez Accept: {GRAPHQL_RESPONSE_JSON} "
               f"ou {JSON}.")


def _ranges(accept: str) -> list[tuple[str, float, int]]:
    """(media range, q, position) of an Accept header; malformed q-values count as 0."""
    out: list[tuple[str, float, int]] = []
    for position, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        if not media:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        out.append((media.lower(), q, position))
    return out


def negotiate(accept: str | None) -> str:
    """The media type to answer in (raises NotAcceptable)."""
    if accept is None or not accept.strip():
        return JSON
    best: tuple[float, int, int] | None = None
    chosen = None
    for media, q, position in _ranges(accept):
        if q <= 0:
            continue
        if media in SUPPORTED:
            candidate, specificity = media, 1
        elif media in ("*/*", "application/*"):
            candidate, specificity = JSON, 0
        else:
            continue
        rank = (q, specificity, -position)
        if best is None or rank > best:
            best, chosen = rank, candidate
    if chosen is None:
        raise NotAcceptable
    return chosen


def is_request_error(body: Any) -> bool:
    """A response whose operation never executed: no data, and no error with a path."""
    if not isinstance(body, dict) or body.get("data") is not None or not body.get("errors"):
        return False
    return all(not isinstance(e, dict) or not e.get("path") for e in body["errors"])


def shape(body: Any, media_type: str, status: int | None) -> tuple[Any, int]:
    """The body and status a GraphQL response is sent with in `media_type`."""
    if media_type == GRAPHQL_RESPONSE_JSON and is_request_error(body):
        return {k: v for k, v in body.items() if k != "data"}, 400
    return body, status or 200
