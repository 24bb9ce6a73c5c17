"""The Prometheus metrics of Relais (prometheus-client, the process's default registry).

Each is defined here once and updated where the thing happens: the consumer runner (lag and
records applied per consumer group), the relay (backlog, events published), the risk engine
(alerts raised per rule), the gateway (GraphQL request latency). The gateway serves them on
`/metrics`; a worker process on `--metrics-port` (``serve_metrics``).
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest, start_http_server

CONSUMER_LAG = Gauge(
    "relais_consumer_lag", "Records on the partition not yet applied by the consumer group (high watermark - position).",
    ["group", "topic", "partition"])
CONSUMER_APPLIED = Counter("relais_consumer_applied", "Records applied by the consumer group.", ["group"])
RELAY_BACKLOG = Gauge("relais_relay_backlog", "Notifications of the event store not yet published by the relay.",
                      ["relay"])
RELAY_PUBLISHED = Counter("relais_relay_published", "Pathway events published by the relay.", ["relay"])
ALERTS_RAISED = Counter("relais_alerts_raised", "Alerts raised by the rupture-risk engine, per rule.", ["rule"])
GRAPHQL_LATENCY = Histogram(
    "relais_graphql_request_seconds", "Time to answer a GraphQL HTTP request (POST or GET /graphql).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))


def metrics_text() -> tuple[bytes, str]:
    """The exposition of every metric of this process, and its content type."""
    return generate_latest(), CONTENT_TYPE_LATEST


def serve_metrics(port: int, host: str = "127.0.0.1") -> None:
    """Serve `/metrics` on host:port from a daemon thread (a worker's `--metrics-port`); a port
    already taken is one French line (CheckFailed)."""
    from services.checks import CheckFailed

    try:
        start_http_server(port, addr=host)
    except OSError as exc:
        raise CheckFailed(f"--metrics-port {port} : impossible d'écouter sur {host}:{port} ({exc.strerror or exc}) : "
                          "choisissez un port libre.") from None


__all__ = ["CONSUMER_LAG", "CONSUMER_APPLIED", "RELAY_BACKLOG", "RELAY_PUBLISHED", "ALERTS_RAISED",
           "GRAPHQL_LATENCY", "metrics_text", "serve_metrics"]
