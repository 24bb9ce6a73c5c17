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
- A request refused before any GraphQL is run (unreadable body, no `query`, a refused token, too
  many requests, an unknown purpose...) is an `HTTPRefusal`: its status, and a body in the same
  shape as a GraphQL error (`{"errors": [{"message", "extensions": {"code"}}]}`, French message,
  code of docs/graphql/errors.md), never strawberry's English plain text. So is every other
  refusal of the app (the screen's `/screen/*`, the framework's own 404 and 405): `as_refusal`.
"""

from __future__ import annotations

import json
import re
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

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


class HTTPRefusal(HTTPException):
    """A request refused at the HTTP level: status, code (docs/graphql/errors.md), French message."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, message, headers)
        self.code = code

    def body(self) -> dict[str, Any]:
        return {"errors": [{"message": self.detail, "extensions": {"code": self.code}}]}


#: strawberry's own refusals of a request (its English reason, matched) -> code, French message.
_STRAWBERRY_REFUSALS: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"^Unable to parse request body as JSON"), "MALFORMED_REQUEST",
     "Corps de requête illisible : un objet JSON {\"query\": ..., \"variables\": {...}} est attendu."),
    (re.compile(r"^No GraphQL query found"), "MISSING_QUERY",
     "Aucun document GraphQL : le champ « query » est obligatoire."),
    (re.compile(r"`query` must be"), "MALFORMED_REQUEST", "Le champ « query » doit être un texte (document GraphQL)."),
    (re.compile(r"`variables` must be"), "INVALID_VARIABLES", "Le champ « variables » doit être un objet JSON ou null."),
    (re.compile(r"`extensions` must be"), "MALFORMED_REQUEST", "Le champ « extensions » doit être un objet JSON ou null."),
    (re.compile(r"^Unsupported content type"), "UNSUPPORTED_MEDIA_TYPE",
     "Content-Type non pris en charge : envoyez application/json."),
    (re.compile(r"only supports GET and POST|are not allowed when using GET"), "METHOD_NOT_ALLOWED",
     "Méthode non prise en charge : envoyez la requête GraphQL en POST."),
    (re.compile(r"^Unknown operation named|^Can't get GraphQL operation type"), "BAD_REQUEST",
     "Opération introuvable : « operationName » ne nomme aucune opération du document."),
    (re.compile(r"are not allowed when using POST"), "BAD_REQUEST",
     "Les souscriptions passent par le websocket (graphql-transport-ws), pas par POST."),
    (re.compile(r"[Bb]atching|Too many operations"), "BAD_REQUEST", "Une seule opération par requête (pas de lot)."),
)


def strawberry_refusal(status: int, reason: str) -> HTTPRefusal:
    """strawberry's refusal (status, English reason) as the gateway's (same status)."""
    for pattern, code, message in _STRAWBERRY_REFUSALS:
        if pattern.search(reason):
            return HTTPRefusal(status, code, message)
    return HTTPRefusal(status, "BAD_REQUEST", "Requête GraphQL refusée : requête HTTP mal formée.")


#: The framework's own refusals (Starlette's unknown address, method not allowed) and the status of a plain HTTPException: code, French message when the
#: exception carries none of its own.
_STATUS_REFUSALS: dict[int, tuple[str, str]] = {
    400: ("BAD_REQUEST", "Requête refusée : requête HTTP mal formée."),
    404: ("NOT_FOUND", "Adresse inconnue : ni /graphql, ni l'écran, ni un fichier publié."),
    405: ("METHOD_NOT_ALLOWED", "Méthode HTTP non prise en charge à cette adresse (voir l'en-tête Allow)."),
}


def as_refusal(refused: HTTPException) -> HTTPRefusal:
    """Any HTTP refusal of the app as the gateway's: an HTTPRefusal as it is; another keeps its
    status, its headers (Allow...) and its message when that is ours (French, given by the
    raise), Starlette's English default phrase being replaced."""
    if isinstance(refused, HTTPRefusal):
        return refused
    code, message = _STATUS_REFUSALS.get(refused.status_code, ("BAD_REQUEST", "Requête refusée."))
    if isinstance(refused.detail, str) and refused.detail != HTTPStatus(refused.status_code).phrase:
        message = refused.detail
    return HTTPRefusal(refused.status_code, code, message, dict(refused.headers or {}) or None)


async def refusal_response(request: Request, refused: Exception) -> Response:
    """An HTTP refusal (an HTTPRefusal, or any other made one by gateway.overhttp.as_refusal) in
    the shape of a GraphQL error, in the media type the request's Accept asks for when it names
    one the gateway writes (gateway.overhttp)."""
    assert isinstance(refused, HTTPException)
    refused = as_refusal(refused)
    try:
        media_type = negotiate(request.headers.get("accept"))
    except NotAcceptable:
        media_type = JSON
    body = json.dumps(refused.body(), ensure_ascii=False).encode()
    return Response(body, status_code=refused.status_code, media_type=f"{media_type}; charset=utf-8",
                    headers=refused.headers)


async def unreadable_body_response(request: Request, refused: Exception) -> Response:
    """FastAPI's refusal of a body its model does not read (`/screen/*`), in the gateway's shape:
    the first field in cause named, as /graphql names a variable."""
    assert isinstance(refused, RequestValidationError)
    first = next(iter(refused.errors()), {})
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
    message = "Corps de requête illisible : un objet JSON avec les champs attendus est requis"
    message += f" (champ « {where} »)." if where else "."
    return await refusal_response(request, HTTPRefusal(400, "MALFORMED_REQUEST", message))


def answer_refusals_as_graphql_errors(app: FastAPI) -> None:
    """Every refusal of `app` (an HTTPRefusal, the screen's, the framework's 404/405, an
    unreadable body) answered in the shape of a GraphQL error."""
    app.add_exception_handler(HTTPException, refusal_response)
    app.add_exception_handler(RequestValidationError, unreadable_body_response)
