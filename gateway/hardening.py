"""Hardening per the OWASP GraphQL cheat sheet.

- depth, alias and token limits, page-size cap (`first` <= MAX_PAGE);
- batching off (strawberry's default: no `batching_config`), one operation per request;
- introspection and the IDE off unless settings.graphql_dev;
- errors masked: only errors raised on purpose (PublicError, French message) and GraphQL
  syntax/validation messages reach the client, never an exception text or a stack trace;
- field suggestions off (StrawberryConfig.disable_field_suggestions);
- a request timeout and a body-size cap (ASGI middleware), a per-token rate limit;
- parsing and validation cached (bounded LRU: a repeated document is parsed and validated once),
  and automatic persisted queries (Apollo's protocol: a client may send only the SHA-256 of a
  document the server already holds; a bounded map, filled only with documents whose hash checks).

The validation rules are built ONCE, at import: the extension factories hand the same rule
classes to every request, so strawberry's validation cache (keyed by the rule tuple) hits.
Building a fresh QueryDepthLimiter per request creates new rule classes each time and the
cache never hits (strawberry issue 4635).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

from graphql import FieldNode, GraphQLError, ValidationRule
from strawberry.extensions import AddValidationRules, MaskErrors, MaxTokensLimiter, ParserCache, SchemaExtension
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.extensions.validation_cache import ValidationCache

from domain.errors import input_error

MAX_DEPTH = 12
MAX_ALIASES = 15
MAX_TOKENS = 2000
MAX_PAGE = 50
MAX_BODY_BYTES = 64 * 1024
#: Distinct documents kept by the parse, validation and persisted-query caches (each bounded).
CACHED_DOCUMENTS = 512
REQUEST_TIMEOUT_SECONDS = 10.0
RATE_LIMIT_PER_MINUTE = 600
#: Operations of one token executing at once; its others wait their turn (within the request
#: timeout), so one caller's heavy queries cannot take every worker from the others.
MAX_CONCURRENT_PER_CALLER = 2
#: Worker threads executing HTTP GraphQL operations off the event loop (OffLoopExecutor).
MAX_WORKERS = 8


class PublicError(Exception):
    """An error whose (French) message is meant for the caller."""

    def __init__(self, message: str, code: str = "BAD_REQUEST") -> None:
        super().__init__(message)
        self.code = code


def check_page_size(value: int, name: str = "first") -> int:
    if value < 1 or value > MAX_PAGE:
        raise PublicError(f"« {name} » doit être compris entre 1 et {MAX_PAGE}.", "PAGE_SIZE")
    return value


# --------------------------------------------------------------------------- rules, once
#: Where the schema is published (served by gateway.app, committed in docs/graphql/).
SCHEMA_PATH = "/graphql/schema.graphql"


class NoSchemaDump(ValidationRule):
    """`__schema` (the whole schema in one answer) is refused outside development: the SDL is
    published at SCHEMA_PATH. `__type(name:)` and `__typename` stay allowed (what GraphQL-over-
    HTTP clients and the graphql-http audit ask), they tell nothing the published SDL does not."""

    def enter_field(self, node: FieldNode, *_args: Any) -> None:
        if node.name.value == "__schema":
            self.report_error(GraphQLError(
                f"Introspection complète désactivée : le schéma est publié à l'adresse {SCHEMA_PATH}.", node,
                extensions={"code": "INTROSPECTION_DISABLED"}))


DEPTH_RULE = depth_rule(MAX_DEPTH, None, None)
ALIAS_RULE = alias_rule(MAX_ALIASES)
RULES_PRODUCTION = [DEPTH_RULE, ALIAS_RULE, NoSchemaDump]
RULES_DEV = [DEPTH_RULE, ALIAS_RULE]

_TRANSLATIONS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"exceeds maximum operation depth of (\d+)"),
     lambda m: f"Requête refusée : trop profonde (profondeur maximale {m.group(1)})."),
    (re.compile(r"^(\d+) aliases found\. Allowed: (\d+)"),
     lambda m: f"Requête refusée : {m.group(1)} alias (maximum {m.group(2)})."),
    (re.compile(r"more than (\d+) tokens"),
     lambda m: f"Requête refusée : trop longue (plus de {m.group(1)} éléments lexicaux)."),
]


#: "Did you mean ...?" in any validation or coercion message: it would leak the schema.
_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")
#: graphql-core's variable coercion messages name the value sent: keep the variable and the path.
_VARIABLE = re.compile(r"^Variable '\$(\w+)' (?:got invalid value .*? at|has invalid value at) '?([\w.\[\]$]*)'?[;:]?")
_VARIABLE_SHORT = re.compile(r"^Variable '\$(\w+)'")


def is_variable_error(error: GraphQLError) -> bool:
    """A variable that does not fit its declared type: the caller's mistake, not an incident."""
    return error.path is None and error.message.startswith("Variable '$")


_MISSING_FIELD = re.compile(r"Field '(\w+)' of required type '[^']*' was not provided|to include required field '(\w+)'")
#: (pattern of graphql-core's coercion message, the kind of refused value it is): the code and
#: French reason of each kind are domain.errors' (the same as a command payload's).
_VARIABLE_KINDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (_MISSING_FIELD, "missing"),
    (re.compile(r"of required type '[^']*' was not provided|must not be null"), "missing"),
    (re.compile(r"does not exist in '\w+' enum|Enum '\w+' cannot represent"), "enum"),
    (re.compile(r"UUID"), "uuid_parsing"),
    (re.compile(r"DateTime"), "datetime_parsing"),
    (re.compile(r"[Dd]ate"), "date_parsing"),
    (re.compile(r"is not defined by type"), "extra_forbidden"),
)


def _variable_error(error: GraphQLError) -> tuple[str, str, str]:
    """(French message, code, field path) of a variable that does not coerce."""
    match = _VARIABLE.match(error.message)
    name = match.group(1) if match else (m.group(1) if (m := _VARIABLE_SHORT.match(error.message)) else "?")
    where = match.group(2).lstrip(".") if match else ""
    code, reason = input_error("")
    for pattern, kind in _VARIABLE_KINDS:
        found = pattern.search(error.message)
        if found:
            code, reason = input_error(kind)
            if pattern is _MISSING_FIELD:
                missing = found.group(1) or found.group(2)
                where = f"{where}.{missing}" if where else missing
            break
    field = ".".join(p for p in (name, where.removeprefix(f"{name}.") if where != name else "") if p)
    return (f"Variable « ${name} » invalide" + (f" au champ « {field} »" if field != name else "")
            + f" : {reason}.", code, field)


def _translate(error: GraphQLError) -> GraphQLError:
    if is_variable_error(error):
        message, code, field = _variable_error(error)
        return GraphQLError(message, nodes=error.nodes, source=error.source,
                            positions=error.positions, extensions={"code": code, "field": field})
    if _SUGGESTION.search(error.message):
        error = GraphQLError(_SUGGESTION.sub("", error.message), nodes=error.nodes, source=error.source,
                             positions=error.positions, path=error.path, original_error=error.original_error,
                             extensions=error.extensions)
    for pattern, french in _TRANSLATIONS:
        match = pattern.search(error.message)
        if match:
            return GraphQLError(french(match), nodes=error.nodes, source=error.source, positions=error.positions,
                                path=error.path, extensions={"code": "QUERY_REFUSED"})
    return error


def _should_mask(error: GraphQLError) -> bool:
    original = error.original_error
    if original is None or is_variable_error(error):
        return False  # syntax / validation / a variable's type: the message describes the query
    return not isinstance(original, PublicError)


class SafeErrors(MaskErrors):
    """Mask unexpected errors; give refused queries a clear French message and a code."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=_should_mask,
                         error_message="Erreur interne : la requête n'a pas pu aboutir (incident journalisé).")

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        out = []
        for error in super()._process_errors(errors):
            original = error.original_error
            if isinstance(original, PublicError):
                error.extensions = {"code": original.code}
            out.append(_translate(error))
        return out


class SafeParserCache(ParserCache):
    """strawberry's ParserCache (parsing is a third of a small request), but a document the
    parser refuses (syntax, too many tokens) is left to strawberry's own parse, which turns the
    refusal into a GraphQL error instead of an exception escaping the extension."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.query:
            try:
                context.graphql_document = self.cached_parse_document(context.query, **context.parse_options)
            except GraphQLError:
                context.graphql_document = None
        yield


class PersistedDocuments:
    """SHA-256 (hex) -> document, least recently used dropped beyond ``maxsize``; thread-safe
    (one per schema, shared by every request)."""

    def __init__(self, maxsize: int = CACHED_DOCUMENTS) -> None:
        self.maxsize = maxsize
        self._documents: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, sha256: str) -> str | None:
        with self._lock:
            document = self._documents.get(sha256)
            if document is not None:
                self._documents.move_to_end(sha256)
            return document

    def put(self, sha256: str, document: str) -> None:
        with self._lock:
            self._documents[sha256] = document
            self._documents.move_to_end(sha256)
            while len(self._documents) > self.maxsize:
                self._documents.popitem(last=False)

    def __len__(self) -> int:
        return len(self._documents)


class PersistedQueries(SchemaExtension):
    """Automatic persisted queries (the protocol of Apollo clients): ``extensions.persistedQuery
    = {version: 1, sha256Hash}``. With the document, its hash is checked and it is kept; without
    it, the kept document is used, or the error ``PersistedQueryNotFound`` (code
    PERSISTED_QUERY_NOT_FOUND) asks the client to send it once. Everything after (token limit,
    parse and validation caches, rules) is unchanged."""

    def __init__(self, documents: PersistedDocuments) -> None:
        super().__init__()
        self.documents = documents

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        persisted = (context.operation_extensions or {}).get("persistedQuery")
        if persisted is not None:
            sha = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
            if not isinstance(sha, str) or (isinstance(persisted, dict) and persisted.get("version") != 1):
                raise GraphQLError("Requête persistée refusée : version 1 et sha256Hash attendus.",
                                   extensions={"code": "PERSISTED_QUERY_INVALID"})
            if context.query:
                if hashlib.sha256(context.query.encode()).hexdigest() != sha.lower():
                    raise GraphQLError("Requête persistée refusée : le hachage ne correspond pas au document.",
                                       extensions={"code": "PERSISTED_QUERY_HASH_MISMATCH"})
                self.documents.put(sha.lower(), context.query)
            else:
                document = self.documents.get(sha.lower())
                if document is None:
                    raise GraphQLError("PersistedQueryNotFound", extensions={"code": "PERSISTED_QUERY_NOT_FOUND"})
                context.query = document
        yield


def extensions(dev: bool, documents: PersistedDocuments | None = None) -> list[Callable[[], SchemaExtension]]:
    """The request extensions, in order; ``documents``: the schema's persisted documents."""
    rules = RULES_DEV if dev else RULES_PRODUCTION
    documents = documents if documents is not None else PersistedDocuments()
    return [
        lambda: PersistedQueries(documents),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: SafeParserCache(maxsize=CACHED_DOCUMENTS),
        lambda: AddValidationRules(rules),
        lambda: ValidationCache(maxsize=CACHED_DOCUMENTS),
        SafeErrors,
    ]


class OffLoopExecutor:
    """Runs each HTTP GraphQL operation on a worker thread with its own event loop (kept per
    thread), so that the app's event loop only receives requests and sends answers.

    Why: an operation's work between two awaits (graphql-core completing thousands of fields,
    the redaction, a SQLite read on the caller's thread) is one uninterrupted piece. On the
    app's loop, ten heavy queries made every other user's request wait for all of them, and the
    request timeout (an asyncio timer on that loop) could not fire until the loop was free
    (issue 10: a 504 after 17 s for a 10 s timeout, another user's `me` 10 s). On a worker the
    interpreter switches threads every few milliseconds, the loop keeps answering, and the
    timeout cancels the caller's wait on time.

    At most `per_caller` operations of one token run at once (the others wait their turn on the
    app's loop, within the timeout), so one token never holds more than that many of the
    `workers` threads: another caller always finds one."""

    def __init__(self, workers: int = MAX_WORKERS, per_caller: int = MAX_CONCURRENT_PER_CALLER) -> None:
        from concurrent.futures import ThreadPoolExecutor

        if workers <= per_caller:
            raise ValueError("more workers than one caller's share are needed")
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="graphql")
        self._local = threading.local()
        self._per_caller = per_caller
        #: caller -> its slots, on the app's loop (the only loop touching them)
        self._slots: dict[str, asyncio.Semaphore] = {}

    def _run(self, operation: Any) -> Any:
        loop = getattr(self._local, "loop", None)
        if loop is None:
            loop = self._local.loop = asyncio.new_event_loop()
        return loop.run_until_complete(operation)

    async def run(self, caller: str | None, operation: Any) -> Any:
        """Await `operation` (a coroutine not started yet) on a worker, in `caller`'s turn.

        Cancelled (the request timeout), the caller stops waiting at once, but the worker
        finishes the operation (a thread cannot be stopped from outside), and the caller's slot
        is given back only then: a caller whose requests time out cannot pile up workers."""
        import contextvars

        loop = asyncio.get_running_loop()
        semaphore = None
        if caller is not None:
            semaphore = self._slots.get(caller)
            if semaphore is None:
                semaphore = self._slots[caller] = asyncio.Semaphore(self._per_caller)
            await semaphore.acquire()
        try:
            work = self._pool.submit(contextvars.copy_context().run, self._run, operation)
        except BaseException:
            if semaphore is not None:
                semaphore.release()
            raise
        if semaphore is not None:
            work.add_done_callback(lambda _done: loop.call_soon_threadsafe(self._release, caller, semaphore))
        return await asyncio.wrap_future(work)

    def _release(self, caller: str, semaphore: asyncio.Semaphore) -> None:
        semaphore.release()
        if not semaphore.locked() and len(self._slots) > 10_000:  # forget idle callers
            self._slots.pop(caller, None)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


# --------------------------------------------------------------------------- rate limit
class RateLimiter:
    """Token bucket per bearer token: `per_minute` requests, bursts up to the same number."""

    def __init__(self, per_minute: int = RATE_LIMIT_PER_MINUTE, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return False
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > 100_000:  # forget idle tokens
                self._buckets = {k: b for k, b in self._buckets.items() if now - b[1] < 120}
            return True


# --------------------------------------------------------------------------- ASGI guard
def _json_error(status: int, message: str, code: str) -> tuple[int, bytes]:
    return status, json.dumps({"data": None, "errors": [{"message": message, "extensions": {"code": code}}]},
                              ensure_ascii=False).encode()


class GuardMiddleware:
    """Body-size cap and request timeout for HTTP requests to the GraphQL path."""

    def __init__(self, app: Any, path: str = "/graphql", max_body: int = MAX_BODY_BYTES,
                 timeout: float = REQUEST_TIMEOUT_SECONDS) -> None:
        self.app, self.path, self.max_body, self.timeout = app, path, max_body, timeout

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.path):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await self._reply(send, *_json_error(413, f"Requête refusée : corps trop volumineux "
                                                      f"(maximum {self.max_body // 1024} Kio).", "BODY_TOO_LARGE"))
            return
        received = 0
        started = False

        async def limited_receive() -> dict:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            async with asyncio.timeout(self.timeout):
                await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await self._reply(send, *_json_error(413, "Requête refusée : corps trop volumineux.", "BODY_TOO_LARGE"))
        except TimeoutError:
            if not started:
                await self._reply(send, *_json_error(504, f"Délai dépassé : la requête a pris plus de "
                                                          f"{self.timeout:.0f} s.", "TIMEOUT"))

    @staticmethod
    async def _reply(send: Callable, status: int, body: bytes) -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json; charset=utf-8"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass


# --------------------------------------------------------------------------- security headers
#: On every response: TLS only from now on, no MIME sniffing, nothing cached (health data), no
#: referrer, and a CSP that allows only the page's own resources (the GraphiQL IDE in dev too).
#: The one Content-Security-Policy of every response, the review screen's included: its scripts,
#: styles and connections from the gateway's own origin only, nothing inline, no framing. Fonts
#: may also be `data:` (GraphiQL's stylesheet embeds its fonts; a data URL names no origin).
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", CSP.encode()),
)


class SecurityHeadersMiddleware:
    """Adds SECURITY_HEADERS to every HTTP response (replacing the app's own values for them)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._headers = list(SECURITY_HEADERS)
        self._names = {name for name, _ in SECURITY_HEADERS}

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in self._names]
                message = {**message, "headers": kept + self._headers}
            await send(message)

        await self.app(scope, receive, with_headers)
