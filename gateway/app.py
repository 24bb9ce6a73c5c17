"""The FastAPI application: /health and /graphql (HTTP POST + graphql-transport-ws).

`create_app(runtime)` wires the gateway around a runtime of the composition root
(services.bootstrap: EmbeddedRuntime or DistributedRuntime): the read side over the
projections' read models (`runtime.readmodels`: PostgreSQL in distributed mode, the embedded
SQLite file fed by the in-process bus in embedded mode), the event-store reader for `asOf`, the
audit log, the alert feed (Kafka `<prefix>.pathway-events` in distributed mode, the in-process
bus in embedded mode), and the hardening middleware. The app's lifespan starts the runtime when
nobody started it yet (and then stops it at shutdown).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from cross_web import HTTPException as CrossWebHTTPException
from fastapi import FastAPI
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UNSET
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler

from gateway.audit import DEFAULT_PURPOSE, PURPOSES
from gateway.auth import AuthenticationFailed, TokenVerifier, build_token_verifier
from gateway.context import Context, GatewayServices
from gateway.hardening import SCHEMA_PATH, GuardMiddleware, RateLimiter, SecurityHeadersMiddleware
from gateway.overhttp import (
    JSON, HTTPRefusal, NotAcceptable, answer_refusals_as_graphql_errors, negotiate, shape, strawberry_refusal,
)
from gateway.schema import SCHEMA_VERSION, build_schema, sdl
from gateway.referral_links import mount_referral_links
from gateway.graphiql import mount_graphiql
from gateway.screen import mount_screen
from gateway.store import EventStoreReader
from gateway.subscriptions import AlertFeed, follow_kafka
from infra.metrics import GRAPHQL_LATENCY, metrics_text
from services.bootstrap import DistributedRuntime, EmbeddedRuntime, build_erasure, read_side

log = logging.getLogger("relais.gateway")


#: graphql-transport-ws close code when the connection's token expires (the protocol's Unauthorized).
CLOSE_TOKEN_EXPIRED = 4401


class ExpiringConnectionHandler(BaseGraphQLTransportWSHandler):
    """graphql-transport-ws, plus: when the token the connection was opened with expires, its
    operations end and the connection is closed with 4401 (the client reconnects with a fresh
    token). Subscriptions also check the expiry before each delivery (gateway.subscriptions)."""

    _expiry: asyncio.Task | None = None

    async def handle_connection_init(self, message: Any) -> None:
        await super().handle_connection_init(message)
        principal = getattr(self.context, "principal", None)
        if self.connection_acknowledged and principal is not None and principal.expires_at is not None:
            self._expiry = asyncio.create_task(self._close_at(principal.expires_at))

    async def _close_at(self, expires_at: float) -> None:
        await asyncio.sleep(max(0.0, expires_at - time.time()))
        for operation_id in list(self.operations):
            await self.cleanup_operation(operation_id)
        with contextlib.suppress(Exception):  # the client may be gone already
            await self.websocket.close(code=CLOSE_TOKEN_EXPIRED, reason="Jeton expiré : reconnectez-vous.")

    async def shutdown(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        await super().shutdown()


class GatewayRouter(GraphQLRouter):
    """Authenticates websocket connections in `connection_init` (graphql-transport-ws)."""

    graphql_transport_ws_handler_class = ExpiringConnectionHandler

    def __init__(self, *args: Any, services: GatewayServices, tokens: TokenVerifier, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.services = services
        self.tokens = tokens

    async def execute_single(self, request: Any, request_adapter: Any, sub_response: Any, context: Any,
                             root_value: Any, request_data: Any) -> Any:
        """The operation on a worker thread, in the caller's turn (gateway.hardening.OffLoopExecutor)."""
        principal = getattr(context, "principal", None)
        caller = None if principal is None else (principal.token_id or f"{principal.agency}/{principal.professional}")
        operation = super().execute_single(request, request_adapter, sub_response, context, root_value, request_data)
        if self.services.executor is None:  # services built without one (tests of the schema alone)
            return await operation
        return await self.services.executor.run(caller, operation)

    async def get_sub_response(self, request: Request) -> Response:
        """The request's response, with the media type its Accept asks for (gateway.overhttp)."""
        response = await super().get_sub_response(request)
        try:
            response.media_type = negotiate(request.headers.get("accept"))
        except NotAcceptable:
            raise HTTPRefusal(406, "NOT_ACCEPTABLE", NotAcceptable.message) from None
        return response

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        """strawberry's run, its own refusals of a request answered as the gateway's (French, coded)."""
        try:
            return await super().run(request, context, root_value)
        except CrossWebHTTPException as refused:
            raise strawberry_refusal(refused.status_code, refused.reason) from None

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        """GraphQL over HTTP: the negotiated media type, 400 without `data` for a request error
        in application/graphql-response+json, 200 otherwise."""
        media_type = sub_response.media_type or JSON
        body, status = shape(response_data, media_type, sub_response.status_code)
        response = Response(self.encode_json(body), media_type=f"{media_type}; charset=utf-8", status_code=status)
        response.headers.raw.extend(h for h in sub_response.headers.raw if h[0].lower() != b"content-type")
        return response

    async def on_ws_connect(self, context: Context) -> dict[str, object] | None:
        params = context.connection_params if isinstance(context.connection_params, dict) else None
        try:
            # Off the event loop: an unknown kid may fetch the issuer's JWKS.
            context.principal = await asyncio.to_thread(self.tokens.authenticate_connection_params, params)
        except AuthenticationFailed as failed:
            raise ConnectionRejectionError({"message": failed.message}) from None
        if not self.services.rate_limiter.allow(context.principal.token_id):
            raise ConnectionRejectionError({"message": "Trop de requêtes : réessayez dans une minute."})
        return {"agency": context.principal.agency, "role": context.principal.role.value}


Runtime = EmbeddedRuntime | DistributedRuntime


class LatencyMiddleware:
    """GRAPHQL_LATENCY: each HTTP request to `path`, until its answer is sent. A plain ASGI
    middleware (starlette's BaseHTTPMiddleware runs every request through a task group and
    memory streams: a third of a millisecond per request here)."""

    def __init__(self, app: Any, path: str = "/graphql") -> None:
        self.app, self.path = app, path

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].rstrip("/") != self.path:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            GRAPHQL_LATENCY.observe(time.perf_counter() - started)


def build_services(runtime: Runtime) -> GatewayServices:
    from gateway.audit import GroupCommitAuditLog
    from gateway.hardening import OffLoopExecutor

    pathways = runtime.pathways
    if pathways is None:
        raise ValueError("the gateway needs a runtime with the event store")
    if isinstance(runtime, EmbeddedRuntime) and runtime.projections is None:
        raise ValueError("the gateway reads the read models: build the embedded runtime with its projections")
    from services.bootstrap import build_referral_links

    read = read_side(runtime.settings, runtime.readmodels)
    return GatewayServices(settings=runtime.settings, pathways=pathways, read=read,
                           reader=EventStoreReader(pathways.app), audit=GroupCommitAuditLog(runtime.audit),
                           rate_limiter=RateLimiter(), alerts=AlertFeed(), webhooks=runtime.webhooks,
                           territory_settings=runtime.territory_settings, agencies=runtime.agencies,
                           erasure=build_erasure(pathways),
                           executor=OffLoopExecutor(),
                           directory=runtime.directory, links=build_referral_links(runtime.settings, pathways))


def purpose_of(header: str | None) -> str:
    """The purpose of use the caller declares (X-Relais-Purpose), from the closed list; none
    declared: care coordination. An unknown one is refused, never rewritten."""
    if header is None or not header.strip():
        return DEFAULT_PURPOSE
    purpose = header.strip().upper()
    if purpose not in PURPOSES:
        raise HTTPRefusal(400, "UNKNOWN_PURPOSE", f"X-Relais-Purpose inconnu : « {header.strip()[:40]} » (finalités admises : "
                                 f"{', '.join(sorted(PURPOSES))}).")
    return purpose


def create_app(runtime: Runtime) -> FastAPI:
    """Build the gateway around a runtime of the composition root (see services.bootstrap)."""
    settings = runtime.settings
    tokens = build_token_verifier(settings, runtime.agencies)  # refuses unsafe production settings
    services = build_services(runtime)

    async def get_context(connection: HTTPConnection) -> Context:
        if connection.scope["type"] == "websocket":
            return Context(services, None)  # authenticated in connection_init
        header = connection.headers.get("authorization")
        principal = None
        # Traffic without a valid token is limited too, per client address (issue 10).
        anonymous = f"addr:{connection.client.host if connection.client else '?'}"
        if header is None and not services.rate_limiter.allow(anonymous):
            raise HTTPRefusal(429, "RATE_LIMITED", "Trop de requêtes : réessayez dans une minute.", headers={"Retry-After": "60"})
        if header is not None:
            try:
                # A token verified before answers from memory; else off the event loop (an
                # unknown kid may fetch the issuer's JWKS).
                principal = tokens.remembered(header) or await asyncio.to_thread(tokens.authenticate_header, header)
            except AuthenticationFailed as failed:
                if not services.rate_limiter.allow(anonymous):
                    raise HTTPRefusal(429, "RATE_LIMITED", "Trop de requêtes : réessayez dans une minute.",
                                        headers={"Retry-After": "60"}) from None
                raise HTTPRefusal(401, "INVALID_TOKEN", failed.message, headers={"WWW-Authenticate": "Bearer"}) from None
            if not services.rate_limiter.allow(principal.token_id):
                raise HTTPRefusal(429, "RATE_LIMITED", "Trop de requêtes : réessayez dans une minute.", headers={"Retry-After": "60"})
        return Context(services, principal, purpose_of(connection.headers.get("x-relais-purpose")))

    router = GatewayRouter(
        build_schema(dev=settings.graphql_dev), services=services, tokens=tokens, context_getter=get_context,
        # Strawberry's GraphiQL loads its scripts from a CDN: the gateway serves its own (gateway.graphiql).
        graphql_ide=None, allow_queries_via_get=False,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        connection_init_wait_timeout=timedelta(seconds=10), max_subscriptions_per_connection=10,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        threads = start_background(runtime, services, stop)
        started_here = runtime.start()
        try:
            yield
        finally:
            stop.set()
            if started_here:
                runtime.stop()
            for thread in threads:
                thread.join(timeout=5)
            services.audit.close()
            services.executor.close()

    app = FastAPI(title="Relais", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    answer_refusals_as_graphql_errors(app)
    app.state.gateway = services
    app.include_router(router, prefix="/graphql")
    app.add_middleware(GuardMiddleware, path="/graphql", timeout=settings.graphql_timeout_s)
    app.add_middleware(SecurityHeadersMiddleware)  # every response, GraphiQL in development included
    mount_screen(app, settings, runtime.agencies, tokens.provider)
    mount_referral_links(app)
    mount_graphiql(app, settings)

    sdl_text = sdl()

    @app.get(SCHEMA_PATH)
    def schema_sdl() -> Response:
        """The published schema (SDL), version in `X-Relais-Schema-Version` (docs/graphql/CHANGELOG.md)."""
        return Response(sdl_text, media_type="application/graphql; charset=utf-8",
                        headers={"X-Relais-Schema-Version": SCHEMA_VERSION})

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "mode": settings.mode}

    app.add_middleware(LatencyMiddleware, path="/graphql")  # outermost: the whole request

    @app.get("/metrics")
    def metrics() -> Response:
        """Prometheus metrics of this process (infra/metrics.py; no personal data)."""
        body, content_type = metrics_text()
        return Response(body, media_type=content_type)

    return app


def start_background(runtime: Runtime, services: GatewayServices, stop: threading.Event) -> list[threading.Thread]:
    """The alert feed (the runtime runs the relay, the projections and alerting)."""
    from services.bootstrap import topic

    threads: list[threading.Thread] = []
    if isinstance(runtime, EmbeddedRuntime):
        runtime.bus.subscribe(services.alerts.on_event)
    else:
        threads.append(threading.Thread(
            target=follow_kafka, args=(services.alerts, runtime.settings.kafka_bootstrap,
                                       topic(runtime.settings, "pathway-events"), stop),
            name="gateway-alert-feed", daemon=True))
    for thread in threads:
        thread.start()
    return threads
