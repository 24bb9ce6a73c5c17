"""The FastAPI application: /health and /graphql (HTTP POST + graphql-transport-ws).

`create_app(relais)` wires the gateway around an already-wired Relais (services.bootstrap):
event-store reader, pathway index, audit log, alert feed (Kafka `relais.pathway-events` in
distributed mode, the in-process bus in embedded mode), and the hardening middleware.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from fastapi import FastAPI, HTTPException
from starlette.requests import HTTPConnection
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler

from gateway.audit import DEFAULT_PURPOSE, PURPOSES
from gateway.auth import AuthenticationFailed, TokenVerifier, build_token_verifier
from gateway.context import Context, GatewayServices
from gateway.directory import Directory
from gateway.hardening import GuardMiddleware, RateLimiter
from gateway.schema import build_schema
from gateway.store import EventStoreReader
from gateway.subscriptions import AlertFeed, follow_kafka
from services.bootstrap import Relais

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


def build_services(relais: Relais) -> GatewayServices:
    from services.bootstrap import ensure_gateway_adapters

    ensure_gateway_adapters(relais)
    from gateway.index import DirectoryIndex, ReadModelIndex

    app = relais.pathways.app
    directory = Directory(app)
    # The projections' read model lists pathways when the composition root provides a
    # connection to it (`relais.readmodels`: a context-manager factory); else our own index.
    readmodels = getattr(relais, "readmodels", None)
    index = ReadModelIndex(readmodels) if readmodels is not None else DirectoryIndex(directory)
    from gateway.audit import GroupCommitAuditLog

    audit = relais.audit if isinstance(relais.audit, GroupCommitAuditLog) else GroupCommitAuditLog(relais.audit)
    return GatewayServices(settings=relais.settings, pathways=relais.pathways, reader=EventStoreReader(app),
                           directory=directory, audit=audit, rate_limiter=RateLimiter(),
                           alerts=AlertFeed(), webhooks=relais.webhooks, index=index)


def create_app(relais: Relais) -> FastAPI:
    """Build the gateway around an already-wired Relais (see services.bootstrap)."""
    settings = relais.settings
    tokens = build_token_verifier(settings, relais.agencies)  # refuses unsafe production settings
    services = build_services(relais)

    async def get_context(connection: HTTPConnection) -> Context:
        if connection.scope["type"] == "websocket":
            return Context(services, None)  # authenticated in connection_init
        header = connection.headers.get("authorization")
        principal = None
        if header is not None:
            try:
                # Off the event loop: an unknown kid may fetch the issuer's JWKS.
                principal = await asyncio.to_thread(tokens.authenticate_header, header)
            except AuthenticationFailed as failed:
                raise HTTPException(401, failed.message, headers={"WWW-Authenticate": "Bearer"}) from None
            if not services.rate_limiter.allow(principal.token_id):
                raise HTTPException(429, "Trop de requêtes : réessayez dans une minute.", headers={"Retry-After": "60"})
        purpose = (connection.headers.get("x-relais-purpose") or DEFAULT_PURPOSE).upper()
        return Context(services, principal, purpose if purpose in PURPOSES else DEFAULT_PURPOSE)

    router = GatewayRouter(
        build_schema(dev=settings.graphql_dev), services=services, tokens=tokens, context_getter=get_context,
        graphql_ide="graphiql" if settings.graphql_dev else None, allow_queries_via_get=False,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        connection_init_wait_timeout=timedelta(seconds=10), max_subscriptions_per_connection=10,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        threads = start_background(relais, services, stop)
        try:
            yield
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=5)
            services.audit.close()

    app = FastAPI(title="Relais", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.gateway = services
    app.include_router(router, prefix="/graphql")
    app.add_middleware(GuardMiddleware, path="/graphql")

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "mode": settings.mode, "indexed_pathways": len(services.directory),
                "alert_changes": len(services.alerts)}

    return app


def _embedded_alerting(relais: Relais, services: GatewayServices, stop: threading.Event) -> threading.Thread:
    """Embedded mode: the alerting worker on the bus (its messages go back on the bus, webhooks
    are delivered from its own thread so that a slow receiver never holds the relay)."""
    import queue

    from services.alerting.worker import AlertingWorker
    from services.relay.wire import TYPE_PREFIX

    inbox: queue.Queue = queue.Queue()
    relais.bus.subscribe(lambda e: inbox.put(e) if e.type.startswith(TYPE_PREFIX + "Alert") else None)
    worker = AlertingWorker(services.reader, relais.bus.publish, services.webhooks)

    def run() -> None:
        while not stop.is_set():
            try:
                first = inbox.get(timeout=0.2)
            except queue.Empty:
                continue
            batch = [first]
            while not inbox.empty():
                batch.append(inbox.get_nowait())
            try:
                worker.handle(batch)
            except Exception:  # noqa: BLE001 - keep alerting alive; the change is logged
                log.exception("embedded alerting failed on a batch")

    return threading.Thread(target=run, name="embedded-alerting", daemon=True)


def start_background(relais: Relais, services: GatewayServices, stop: threading.Event) -> list[threading.Thread]:
    """The index follower and the alert feed (and, embedded, the relay onto the bus)."""
    from services.bootstrap import topic

    threads = [threading.Thread(target=services.directory.follow, args=(stop,), name="gateway-directory", daemon=True)]
    if relais.bus is not None:
        relais.bus.subscribe(services.alerts.on_event)
        threads.append(_embedded_alerting(relais, services, stop))
        relay = relais.embedded_relay
        if relay is not None and not getattr(relay, "_gateway_started", False):
            relay._gateway_started = True  # noqa: SLF001 - one follower per process
            threads.append(threading.Thread(target=relay.run, args=(stop,), name="embedded-relay", daemon=True))
    else:
        threads.append(threading.Thread(
            target=follow_kafka, args=(services.alerts, relais.settings.kafka_bootstrap,
                                       topic(relais.settings, "pathway-events"), stop),
            name="gateway-alert-feed", daemon=True))
    for thread in threads:
        thread.start()
    return threads
