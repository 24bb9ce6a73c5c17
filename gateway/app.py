"""The FastAPI application: /health and /graphql (HTTP POST + graphql-transport-ws).

`create_app(relais)` wires the gateway around an already-wired Relais (services.bootstrap):
the read side over the projections' read models (`relais.readmodels`: PostgreSQL in
distributed mode, the embedded SQLite file fed by the in-process bus in embedded mode), the
event-store reader for `asOf`, audit log, alert feed (Kafka `relais.pathway-events` in
distributed mode, the in-process bus in embedded mode), and the hardening middleware.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from fastapi import FastAPI, HTTPException
from starlette.requests import HTTPConnection
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from gateway.audit import DEFAULT_PURPOSE, PURPOSES
from gateway.auth import AuthenticationFailed, authenticate_connection_params, authenticate_header
from gateway.context import Context, GatewayServices
from gateway.hardening import GuardMiddleware, RateLimiter
from gateway.readside import ReadSide
from gateway.schema import build_schema
from gateway.store import EventStoreReader
from gateway.subscriptions import AlertFeed, follow_kafka
from services.bootstrap import Relais

log = logging.getLogger("relais.gateway")


class GatewayRouter(GraphQLRouter):
    """Authenticates websocket connections in `connection_init` (graphql-transport-ws)."""

    def __init__(self, *args: Any, services: GatewayServices, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.services = services

    async def on_ws_connect(self, context: Context) -> dict[str, object] | None:
        try:
            context.principal = authenticate_connection_params(
                context.connection_params if isinstance(context.connection_params, dict) else None,
                self.services.settings.jwt_key.get_secret_value())
        except AuthenticationFailed as failed:
            raise ConnectionRejectionError({"message": failed.message}) from None
        if not self.services.rate_limiter.allow(context.principal.token_id):
            raise ConnectionRejectionError({"message": "Trop de requêtes : réessayez dans une minute."})
        return {"agency": context.principal.agency, "role": context.principal.role.value}


def build_services(relais: Relais) -> GatewayServices:
    from services.bootstrap import ensure_gateway_adapters

    ensure_gateway_adapters(relais)  # the read models too (`relais.readmodels`), in both modes
    from gateway.audit import GroupCommitAuditLog

    audit = relais.audit if isinstance(relais.audit, GroupCommitAuditLog) else GroupCommitAuditLog(relais.audit)
    read = ReadSide(relais.readmodels, wait_timeout_s=relais.settings.read_wait_timeout_s)
    return GatewayServices(settings=relais.settings, pathways=relais.pathways, read=read,
                           reader=EventStoreReader(relais.pathways.app), audit=audit, rate_limiter=RateLimiter(),
                           alerts=AlertFeed(), webhooks=relais.webhooks)


def create_app(relais: Relais) -> FastAPI:
    """Build the gateway around an already-wired Relais (see services.bootstrap)."""
    settings = relais.settings
    services = build_services(relais)
    key = settings.jwt_key.get_secret_value()

    async def get_context(connection: HTTPConnection) -> Context:
        if connection.scope["type"] == "websocket":
            return Context(services, None)  # authenticated in connection_init
        header = connection.headers.get("authorization")
        principal = None
        if header is not None:
            try:
                principal = authenticate_header(header, key)
            except AuthenticationFailed as failed:
                raise HTTPException(401, failed.message, headers={"WWW-Authenticate": "Bearer"}) from None
            if not services.rate_limiter.allow(principal.token_id):
                raise HTTPException(429, "Trop de requêtes : réessayez dans une minute.", headers={"Retry-After": "60"})
        purpose = (connection.headers.get("x-relais-purpose") or DEFAULT_PURPOSE).upper()
        return Context(services, principal, purpose if purpose in PURPOSES else DEFAULT_PURPOSE)

    router = GatewayRouter(
        build_schema(dev=settings.graphql_dev), services=services, context_getter=get_context,
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
        return {"status": "ok", "mode": settings.mode}

    return app


def _embedded_alerting(relais: Relais, services: GatewayServices, stop: threading.Event) -> threading.Thread:
    """Embedded mode: the alerting worker on the bus (its messages go back on the bus, webhooks
    are delivered from its own thread so that a slow receiver never holds the relay)."""
    import queue

    from services.alerting.worker import AlertingWorker
    from services.relay.wire import TYPE_PREFIX

    inbox: queue.Queue = queue.Queue()
    relais.bus.subscribe(lambda e: inbox.put(e) if e.type.startswith(TYPE_PREFIX + "Alert") else None)
    worker = AlertingWorker(services.read, relais.bus.publish, services.webhooks)

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
    """The alert feed (and, embedded, the alerting worker and the relay onto the bus)."""
    from services.bootstrap import topic

    threads: list[threading.Thread] = []
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
