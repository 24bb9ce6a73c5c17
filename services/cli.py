"""`relais`: the command line of Relais."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date, datetime, time
from pathlib import Path


def _serve(args: argparse.Namespace) -> int:
    import logging

    import uvicorn

    from gateway.app import create_app
    from infra.logs import configure_json_logging, uvicorn_log_config
    from services.bootstrap import EmbeddedRuntime, bootstrap
    from services.checks import UnsafeConfiguration, check_port_free, preflight, security_problems, settings_from_env

    overrides = {}
    if args.port is not None:
        overrides["http_port"] = args.port
    if args.synthetic_pathways is not None:
        overrides["synthetic_pathways"] = args.synthetic_pathways
    settings = settings_from_env(**overrides)
    # Before anything connects or loads: outside development, no start on unsafe settings.
    problems = security_problems(settings)
    if problems:
        for line in problems:
            print(f"relais serve : ERREUR : {line}", file=sys.stderr)
        return 1
    preflight(settings, ["cipher", "state"] if settings.mode == "embedded" else ["cipher", "kafka", "database"])
    # The port is taken now, before the synthetic load begins; uvicorn serves on this socket.
    sock = check_port_free(settings.http_host, settings.http_port)
    configure_json_logging()
    try:
        runtime = bootstrap(settings)
        try:
            app = create_app(runtime)
        except UnsafeConfiguration as unsafe:
            runtime.close()
            for line in unsafe.problems:
                print(f"relais serve : ERREUR : {line}", file=sys.stderr)
            return 1
        runtime.start()
        if isinstance(runtime, EmbeddedRuntime):
            # The bar redraws one line in place: for a terminal only (stderr is JSON lines otherwise).
            runtime.load_synthetic_territory(progress=sys.stderr.isatty())
        print(f"Relais ({settings.mode}) sur http://{settings.http_host}:{settings.http_port}/ "
              f"(écran de synthèse ; API GraphQL sur /graphql)", flush=True)
        logging.getLogger("relais.serve").info("serving", extra={
            "event": "serve", "mode": settings.mode, "url": f"http://{settings.http_host}:{settings.http_port}/graphql"})
        config = uvicorn.Config(app, host=settings.http_host, port=settings.http_port,
                                log_config=uvicorn_log_config())
        try:
            uvicorn.Server(config).run(sockets=[sock])
        finally:
            runtime.close()
    finally:
        sock.close()
    return 0


def _check(args: argparse.Namespace) -> int:
    from services.checks import COMPONENTS, CheckFailed, checks_for, security_problems, settings_from_env

    unknown = sorted(set(args.components) - set(COMPONENTS))
    if unknown:
        print(f"relais check : ERREUR : composant inconnu {', '.join(unknown)} : "
              f"choisissez parmi {', '.join(COMPONENTS)}.", file=sys.stderr)
        return 2
    settings = settings_from_env()
    if not args.components or "identity" in args.components:
        problems = security_problems(settings)
        for line in problems:
            print(f"relais check : ERREUR : {line}", file=sys.stderr, flush=True)
        if problems:
            return 1
    failed = False
    for _name, check in checks_for(settings, args.components):
        try:
            print(f"relais check : ok : {check()}", flush=True)
        except CheckFailed as exc:  # every check runs: the operator sees all that is wrong at once
            print(f"relais check : ERREUR : {exc}", file=sys.stderr, flush=True)
            failed = True
    if failed:
        return 1
    if not args.components and settings.mode == "embedded":
        print("relais check : mode embedded : ni Kafka ni PostgreSQL requis "
              "(RELAIS_MODE=distributed, ou `relais check database kafka`, pour les vérifier)", flush=True)
    return 0


def _worker_settings():  # noqa: ANN202 - lazy import keeps `relais --help` instant
    from services.checks import settings_from_env

    return settings_from_env(mode="distributed")


def _worker(build, *, event_store: bool = True, metrics_port: int | None = None) -> int:  # noqa: ANN001
    """A distributed worker process: JSON logs, the runtime (one shared pool), the workers
    `build(runtime)` returns, each in its thread, until SIGTERM/SIGINT. `event_store=False`:
    a process that reads Kafka only (projections) needs neither the event store nor the key.
    The settings are checked first (one French line each, exit 1); Kafka being down is not a
    configuration fault: the workers retry it with backoff. `metrics_port`: Prometheus metrics
    served on 127.0.0.1:PORT/metrics."""
    import threading

    from infra.kafka.consumer import install_signal_handlers
    from infra.logs import configure_json_logging
    from services.bootstrap import build_distributed
    from services.checks import preflight

    settings = _worker_settings()
    preflight(settings, ["cipher", "kafka", "database"] if event_store else ["kafka", "database"])
    if metrics_port is not None:
        from infra.metrics import serve_metrics

        serve_metrics(metrics_port)
    configure_json_logging()
    stop = threading.Event()
    install_signal_handlers(stop)
    runtime = build_distributed(settings, event_store=event_store)
    runtime.add(*build(runtime)).run_until(stop)
    return 0


def _relay(args: argparse.Namespace) -> int:
    return _worker(lambda runtime: [runtime.relay(), runtime.directory_relay()], metrics_port=args.metrics_port)


def _ingest(args: argparse.Namespace) -> int:
    from infra.kafka.topics import load_topics

    agencies = args.agencies or [s.name.rsplit(".", 1)[1] for s in load_topics(prefix="x") if ".inbound." in s.name]
    return _worker(lambda runtime: [runtime.ingest(agencies), runtime.directory_places(),
                                    runtime.directory_expiry()], metrics_port=args.metrics_port)


def _projections(args: argparse.Namespace) -> int:
    from projections.registry import PROJECTIONS, UnknownProjection, projection_class

    if args.action == "list":
        for name, cls in PROJECTIONS.items():
            print(f"{name:<22} {cls.title}")
        return 0
    try:
        classes = [projection_class(n) for n in (args.names or list(PROJECTIONS))]
    except UnknownProjection as exc:
        print(f"relais projections : ERREUR : {exc}", file=sys.stderr)
        return 2
    if args.action == "rebuild":
        if len(classes) != 1 or not args.names:
            print("relais projections rebuild : ERREUR : nommez UNE projection.", file=sys.stderr)
            return 2
        return _rebuild(classes[0], embedded=args.embedded)
    return _worker(lambda runtime: [runtime.projection(cls) for cls in classes], event_store=False,
                   metrics_port=args.metrics_port)


def _rebuild(cls, *, embedded: bool) -> int:  # noqa: ANN001
    from infra.progress import Progress

    progress = Progress(f"reconstruction {cls.name}")
    if embedded:
        from infra.bus import InProcessBus
        from services.bootstrap import build_embedded_projections, build_pathways_application, is_pathway_event
        from services.relay.positions import MemoryPositionStore
        from services.relay.relay import Relay
        from services.settings import Settings

        settings = Settings(mode="embedded")
        app, bus = build_pathways_application(settings), InProcessBus()
        relay = Relay(app, bus, MemoryPositionStore(), is_published=is_pathway_event, batch_size=5000)
        replay = Progress("relecture du journal", unit="notifications", rate_unit="notif/s")
        replay.start(app.recorder.max_notification_id() or 0)
        done = 0
        while n := relay.run_once():  # the event store's log, in order
            done += n
            replay.update(done)
        replay.finish()
        read_models = build_embedded_projections(settings)
        before = read_models.projections[cls.name].version
        new = read_models.rebuild(cls.name, bus.events(), progress=progress)
        print(f"relais projections : {cls.name} reconstruite depuis le journal des événements "
              f"(v{before} -> v{new.version})", flush=True)
        return 0
    from infra.postgres.migrations import MigrationError
    from projections.postgres import RebuildRunning, rebuild
    from services.bootstrap import projection_target

    try:
        result = rebuild(projection_target(_worker_settings()), cls, progress=progress)
    except (RebuildRunning, MigrationError) as exc:
        print(f"relais projections : ERREUR : {exc}", file=sys.stderr)
        return 1
    rate = f"{result.rate:,.0f}".replace(",", " ")
    print(f"relais projections : {cls.name} v{result.old_version} -> v{result.new_version} : "
          f"{result.events} événements en {result.seconds:.1f} s ({rate} év/s), "
          f"vue basculée, ancienne version supprimée", flush=True)
    return 0


def _alerting(args: argparse.Namespace) -> int:
    from services.alerting.digest import DigestLoop

    if args.digest_now:
        return _digest_now()
    return _worker(lambda runtime: [runtime.alerting(), DigestLoop(runtime.digest())], metrics_port=args.metrics_port)


def _digest_now() -> int:
    """`relais alerting --digest-now`: every agency's digest of today, now, unless already sent."""
    from gateway.hardening import PublicError
    from services.bootstrap import build_distributed
    from services.checks import preflight

    settings = _worker_settings()
    preflight(settings, ["cipher", "kafka", "database"])
    runtime = build_distributed(settings)
    try:
        result = runtime.digest().send_due(force=True)
    except PublicError as exc:  # the open alerts' read model is not built yet
        print(f"relais alerting --digest-now : ERREUR : {exc}", file=sys.stderr)
        return 1
    finally:
        runtime.close()
    print(f"relais alerting --digest-now : {result.sent} récapitulatif(s) envoyé(s), {result.already_sent} déjà "
          f"envoyé(s) aujourd'hui, {result.empty} structure(s) sans alerte en attente")
    return 0


def _metrics_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--metrics-port", type=int, default=None, metavar="PORT",
                        help="serve Prometheus metrics on http://127.0.0.1:PORT/metrics (consumer lag, "
                        "relay backlog, alerts raised per rule)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="relais",
        description="Relais: coordination des parcours (PASS, SIAO, DAC, associations) "
        "et alertes de risque de rupture. Settings come from RELAIS_* environment variables.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser(
        "serve",
        help="start the gateway (health + GraphQL) on 127.0.0.1",
        description="Start the gateway. In the default embedded mode it needs neither Kafka nor "
        "a PostgreSQL server: an SQLite file under RELAIS_STATE_DIR and an in-process bus.",
    )
    serve.add_argument("--port", type=int, default=None, help="HTTP port (default RELAIS_HTTP_PORT or 8000)")
    serve.add_argument("--synthetic-pathways", type=int, default=None, metavar="N",
                       help="embedded mode: synthetic pathways loaded when the store is empty "
                       "(default RELAIS_SYNTHETIC_PATHWAYS or 200; 0 = none)")
    serve.set_defaults(func=_serve)
    check = sub.add_parser(
        "check",
        help="check the configuration: one clear line per problem, exit 1 when one fails",
        description="Check the configuration read from RELAIS_* variables: the cipher key (present "
        "in distributed mode, base64 of 16/24/32 bytes); in distributed mode "
        "PostgreSQL (reachable, credentials, migrations) and Kafka (reachable, topics); in embedded "
        "mode the state directory (never created by the check); in both the identity settings (token issuer and keys, agency "
        "registry; outside development a development key, a default password or a missing issuer "
        "is refused). Name components to check only those.",
    )
    check.add_argument("components", nargs="*", metavar="COMPONENT",
                       help="identity, cipher, database, kafka or state (default: what RELAIS_MODE needs)")
    check.set_defaults(func=_check)
    relay = sub.add_parser(
        "relay",
        help="publish the event stores' notification logs to Kafka (runs until SIGTERM)",
        description="The outbox relay: follows the PostgreSQL event store's notification log and "
        "publishes every pathway event to <prefix>.pathway-events (CloudEvents, key = pathway id), and the "
        "directory's events to <prefix>.directory-events (key = service id). "
        "Its position advances only after the broker acknowledged; restart it at any time.",
    )
    _metrics_option(relay)
    relay.set_defaults(func=_relay)
    ingest = sub.add_parser(
        "ingest",
        help="apply partner messages from <prefix>.inbound.<agency> (runs until SIGTERM)",
        description="Consumes the inbound agency topics, turns each message into a pathway command "
        "(or a directory command on the agency's own services) and sends what cannot be applied to "
        "<prefix>.deadletter with the reason; gives the directory's quota places back when their "
        "referral is declined, cancelled, failed or expired (from <prefix>.pathway-events). "
        "Message formats: docs/inbound/.",
    )
    ingest.add_argument("agencies", nargs="*", metavar="AGENCY",
                        help="agencies whose topics to consume (default: all of infra/kafka/topics.toml)")
    _metrics_option(ingest)
    ingest.set_defaults(func=_ingest)
    projections = sub.add_parser(
        "projections",
        help="read models: list, run (until SIGTERM), rebuild NAME",
        description="The read models fed from <prefix>.pathway-events into PostgreSQL. `list` names "
        "them; `run [NAME...]` keeps them up to date until SIGTERM (default: all); `rebuild NAME` builds "
        "the next version from the start of the topic (progress on stderr), swaps the view readers "
        "use in one transaction and drops the old version. `rebuild NAME --embedded` does the same in "
        "the embedded SQLite read models, from the embedded event store (stop `relais serve` first).",
    )
    projections.add_argument("action", choices=["list", "run", "rebuild"])
    projections.add_argument("names", nargs="*", metavar="NAME", help="projection names (see `list`)")
    projections.add_argument("--embedded", action="store_true",
                             help="rebuild: the embedded mode's SQLite read models (RELAIS_STATE_DIR)")
    _metrics_option(projections)
    projections.set_defaults(func=_projections)
    _add_risk_parser(sub)
    alerting = sub.add_parser(
        "alerting",
        help="publish alert changes on <prefix>.alerts and to agency webhooks (runs until SIGTERM)",
        description="Follows <prefix>.pathway-events; every change of a high or critical alert goes to "
        "<prefix>.alerts (one CloudEvent per receiving agency, personal fields only as that agency may see "
        "them) and to the agency's registered webhook (signed as Standard Webhooks, retried with backoff, "
        "deduplicated). Alerts below the territory's push_min_severity reach their owner in one daily digest "
        "per agency (fr.relais.alert.digest.v1, from the territory's digest_hour, once per day).",
    )
    alerting.add_argument("--digest-now", action="store_true",
                          help="send today's digest of every agency now (those not sent yet), then exit")
    _metrics_option(alerting)
    alerting.set_defaults(func=_alerting)
    _add_tool_parsers(sub)
    _add_rules_parser(sub)
    _add_fhir_parser(sub)
    _add_audit_parser(sub)
    _add_privacy_parsers(sub)
    _add_directory_parser(sub)
    return parser


def _risk(args: argparse.Namespace) -> int:
    import logging

    from services.risk.runner import ClockLoop

    def workers(runtime):  # noqa: ANN001, ANN202 - DistributedRuntime -> list[Worker]
        engine = runtime.risk_engine()
        engine.sweep_batch = args.batch
        if args.sweep_once:
            result = engine.sweep()
            logging.getLogger("relais.risk").info("sweep done", extra={
                "event": "sweep_once", "due": result.due, "raised": result.raised, "resolved": result.resolved,
                "escalated": result.escalated})
            return []
        return [ClockLoop(engine, args.interval), runtime.risk_runner(engine)]

    return _worker(workers, metrics_port=args.metrics_port)


def _add_risk_parser(sub) -> None:  # noqa: ANN001 - argparse's private subparsers type
    risk = sub.add_parser(
        "risk",
        help="rupture-risk engine: alerts from pathway events and deadlines (runs until SIGTERM)",
        description="The rupture-risk engine. Consumes <prefix>.pathway-events (group <prefix>-risk, "
        "e.g. relais-risk): every "
        "event re-evaluates its pathway's rules and raises, resolves or escalates alerts as pathway "
        "events; a clock loop sweeps the PostgreSQL deadline index (risk_deadlines) every --interval "
        "seconds and evaluates only the pathways whose deadline passed. Several processes may run "
        "together. Logs are JSON lines on stderr.",
    )
    risk.add_argument("--interval", type=float, default=5.0, metavar="SECONDS",
                      help="seconds between two clock sweeps (default 5)")
    risk.add_argument("--batch", type=int, default=200, metavar="N",
                      help="due pathways taken per sweep transaction (default 200)")
    risk.add_argument("--sweep-once", action="store_true",
                      help="run one clock sweep now and exit (no Kafka consumer)")
    _metrics_option(risk)
    risk.set_defaults(func=_risk)


def _token(args: argparse.Namespace) -> int:
    from domain.agencies import InvalidRegistry
    from gateway.auth import DevelopmentTokenRefused, development_token
    from infra.agencies import load_registry
    from services.checks import CheckFailed, settings_from_env

    def refuse(line: str) -> int:
        print(f"relais token : ERREUR : {line}", file=sys.stderr)
        return 2

    try:
        settings = settings_from_env()
        agencies = load_registry(settings.agencies_file)
    except (CheckFailed, InvalidRegistry) as exc:
        return refuse(str(exc))
    if settings.jwks_url or settings.jwks_file or settings.jwks:
        print("relais token : attention : une JWKS est configurée ; le gateway n'acceptera ce jeton que "
              "sans RELAIS_JWKS_URL / RELAIS_JWKS_FILE / RELAIS_JWKS.", file=sys.stderr)
    try:
        print(development_token(settings, agencies, agency=args.agency, role=args.role,
                                professional=args.professional, ttl_seconds=args.hours * 3600))
    except DevelopmentTokenRefused as refused:
        return refuse(refused.message)
    return 0


def _pathway_count(text: str) -> int:
    count = int(text)
    if not 1 <= count <= 100_000:
        raise argparse.ArgumentTypeError("entre 1 et 100000 parcours")
    return count


def _territory(args: argparse.Namespace) -> int:
    from services.bootstrap import build_directory, build_pathways_application
    from services.checks import preflight, settings_from_env
    from services.pathways import PathwaysHandler
    from services.territory.directory import load_directory
    from services.territory.load import Refused, load

    settings = settings_from_env()
    preflight(settings, ["cipher", "state"] if settings.mode == "embedded" else ["cipher", "database"])
    pathways = PathwaysHandler(build_pathways_application(settings))  # the event store alone
    try:
        now = None
        if args.today is not None:
            from services.territory.synthetic import PARIS

            now = datetime.combine(args.today, time(23, 0), PARIS)
        directory = build_directory(settings, pathways)
        try:
            services = load_directory(directory, seed=args.seed, now=now)
        finally:
            directory.handler.app.close()
        sent = load(pathways, args.pathways, seed=args.seed, territory=args.territory or settings.territory, now=now)
    except (Refused, RuntimeError) as refused:
        print(f"relais territory : ERREUR : {refused}", file=sys.stderr)
        return 1
    print(f"{sent} commandes acceptées ({args.pathways} parcours synthétiques, graine {args.seed}).")
    print(f"Annuaire des services : {services} services synthétiques (graine {args.seed}).")
    return 0


def _add_tool_parsers(sub) -> None:  # noqa: ANN001 - argparse's private subparsers type
    token = sub.add_parser(
        "token",
        help="print a development bearer token for the GraphQL API (development setting only)",
        description="Mint a JWT (ES256) naming an agency of the registry, a pseudonymous professional "
        "and a role, signed with the local development key pair (generated on first use in "
        "RELAIS_STATE_DIR: dev-token-key.pem, 0600, and its public half dev-jwks.json, which a gateway "
        "in the development setting reads). Send it as `Authorization: Bearer <token>` (or in "
        "connection_init on websockets). Refused with RELAIS_ENVIRONMENT=production: there tokens "
        "come from the OpenID Connect provider.",
    )
    token.add_argument("--agency", required=True, help="agency code, e.g. siao, pass, dac")
    token.add_argument("--professional", required=True, help="pseudonymous professional id, e.g. siao-coord-2")
    token.add_argument("--role", required=True, help="role code, e.g. coordinateur, assistante_sociale, medecin, dpo")
    token.add_argument("--hours", type=int, default=8, help="validity in hours (default 8; at most RELAIS_TOKEN_MAX_LIFETIME_S)")
    token.set_defaults(func=_token)
    territory = sub.add_parser(
        "territory",
        help="load a synthetic territory (fictitious people) into the configured event store",
        description="Send the commands of N synthetic pathways (fictitious, pseudonymous people) of "
        "Seine-Maritime's agencies (infra/agencies.toml) through the pathways service, one batch per "
        "pathway, with progress (pathways, commands, pathways/s) on stderr. The four kinds follow the "
        "seeds: releases from prison (USMP, SPIP, CSAPA), maternity discharges (two maternities, "
        "PMI), a regional SAS of 50 places (stays of 3 weeks at most), PASS-to-GP handoffs (48 "
        "orientations -> 27 reached -> 17 went); with missed appointments, changed phone numbers, "
        "late entries, care refusals, case conferences, DAC-coordinated pathways and closures. "
        "Facts happen in office hours before TODAY; exits are spread around it. Same seed and "
        "same day: same commands, so loading twice adds nothing.",
    )
    territory.add_argument("--pathways", type=_pathway_count, default=200, metavar="N",
                           help="how many pathways, up to 100000 (a credible territory: 100 and more; default 200)")
    territory.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    territory.add_argument("--territory", default=None, help="territory code (default RELAIS_TERRITORY)")
    territory.add_argument("--today", type=date.fromisoformat, default=None, metavar="AAAA-MM-JJ",
                           help="the day the territory is seen from (default today): same day, same commands")
    territory.set_defaults(func=_territory)


class _NoReadModels(RuntimeError):
    """The read models to export from are not there (the message says what to run)."""


def _fhir_source(settings):  # noqa: ANN001, ANN202 - lazy imports keep `relais --help` instant
    """An open connection to the read models: embedded, the SQLite file `relais serve` keeps;
    distributed, PostgreSQL's `database_schema` (what `relais projections run` writes)."""
    if settings.mode == "embedded":
        import sqlite3
        from pathlib import Path

        path = Path(settings.state_dir) / "read_models.sqlite3"
        conn = sqlite3.connect(path) if path.exists() else None
        if conn is None or conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'referrals'").fetchone() is None:
            raise _NoReadModels(f"pas de modèle de lecture des orientations dans {path} : lancez `relais serve` "
                                "(il le tient à jour) ou `relais projections rebuild referrals --embedded`.")
        return conn
    import psycopg
    from psycopg import sql

    try:
        conn = psycopg.connect(settings.database_url, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise _NoReadModels(f"PostgreSQL injoignable ({str(exc).strip().splitlines()[0]}) : lancez "
                            "`bash infra/scripts/up.sh` ou corrigez RELAIS_DATABASE_URL.") from None
    conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(settings.database_schema)))
    return conn


def _fhir(args: argparse.Namespace) -> int:
    from pathlib import Path

    from infra.progress import Progress
    from services.fhir.referrals import export_json, export_territory
    from services.settings import Settings

    settings = Settings()
    territory = args.territory or settings.territory
    try:
        conn = _fhir_source(settings)
    except _NoReadModels as exc:
        print(f"relais fhir export : ERREUR : {exc}", file=sys.stderr)
        return 1
    try:
        progress = Progress(f"export FHIR territoire {territory}", sys.stderr, unit="orientations",
                            rate_unit="orientations/s")
        bundle = export_territory(conn, territory, progress=progress)
    finally:
        conn.close()
    text = export_json(bundle) + "\n"
    count = len(bundle.entry or []) // 2
    if args.out is None:
        sys.stdout.write(text)
    else:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"relais fhir export : {count} orientation(s) du territoire {territory} -> {args.out} "
              f"(Bundle FHIR : {count} Task + {count} ServiceRequest)", file=sys.stderr)
    return 0


def _add_fhir_parser(sub) -> None:  # noqa: ANN001 - argparse's private subparsers type
    fhir = sub.add_parser(
        "fhir",
        help="HL7 FHIR: export the referrals of a territory as a Bundle of Task + ServiceRequest",
        description="HL7 FHIR R4 for partners. `export` writes every referral and GP orientation of a "
        "territory, from the read models (embedded: the SQLite file `relais serve` keeps; distributed: "
        "PostgreSQL), as one FHIR Bundle (type collection): per referral a ServiceRequest and a Task "
        "following the Gravity SDOH closed-loop referral pattern (statuses one to one, reasons, the "
        "pathway id as pseudonymous Patient, agencies as Organizations). Progress goes to stderr. "
        "Mapping: services/fhir/referrals.py; examples: docs/partners.md.",
    )
    actions = fhir.add_subparsers(dest="action", required=True, metavar="ACTION")
    export = actions.add_parser(
        "export", help="the territory's referrals as a FHIR Bundle (JSON)",
        description="Export the referrals (MakeReferral, UpdateReferralStatus, RecordReferralOutcome) and GP "
        "orientations (OrientToGp, RecordFollowUpCall, RecordGpVisitOutcome) of a territory as a FHIR R4 "
        "Bundle of Task + ServiceRequest, on stdout or in --out FILE; progress on stderr.",
    )
    export.add_argument("--territory", default=None, help="territory code, e.g. 76 (default RELAIS_TERRITORY)")
    export.add_argument("--out", default=None, metavar="FILE", help="write the Bundle to FILE (default: stdout)")
    export.set_defaults(func=_fhir)


# --------------------------------------------------------------------------- rules (issue 12)
def _rules_backtest(args: argparse.Namespace) -> int:
    import json
    import tomllib
    from datetime import UTC

    from services.bootstrap import build_pathways_application, open_territory_settings
    from services.risk import backtest as bt
    from services.risk.territory_settings import SettingsRefused, SettingsSource, validate_document
    from services.settings import Settings

    if (args.plot or args.csv) and not args.out:
        print("relais rules backtest : --plot et --csv écrivent des fichiers : indiquez --out PREFIXE", file=sys.stderr)
        return 2
    settings = Settings()
    path = Path(args.settings)
    try:
        text = path.read_text(encoding="utf-8")
        document = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        candidate = validate_document(args.territory, document)
    except (OSError, ValueError) as exc:  # unreadable, not JSON/TOML, or refused (SettingsRefused)
        reason = str(exc) if isinstance(exc, SettingsRefused) else f"fichier illisible : {exc}"
        print(f"relais rules backtest : {path} : {reason}", file=sys.stderr)
        return 2
    store, close = open_territory_settings(settings)
    try:
        in_force = SettingsSource(store, ttl_s=0)(args.territory)
    finally:
        close()

    def moment(day: date | None, end_of_day: bool = False) -> datetime | None:
        return None if day is None else datetime.combine(day, time(23, 59, 59) if end_of_day else time(0), UTC)

    app = None if args.synthetic is not None else build_pathways_application(settings)
    try:
        report = bt.backtest(args.territory, candidate, in_force, synthetic=args.synthetic, seed=args.seed, app=app,
                             start=moment(args.start), end=moment(args.end, end_of_day=True),
                             progress=sys.stderr if args.progress else None)
    finally:
        if app is not None:
            app.close()
    prefix = Path(args.out) if args.out else None
    outputs = {"md": bt.markdown(report) if args.report == "md" else None,
               "svg": bt.svg(report) if args.plot == "svg" else None,
               "csv": bt.csv_text(report) if args.csv else None}
    for suffix, text in outputs.items():
        if text is not None and prefix is not None:
            target = prefix.with_name(f"{prefix.name}.{suffix}")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            print(f"relais rules backtest : {target} écrit", file=sys.stderr)
    if outputs["md"] is not None and prefix is None:
        print(outputs["md"])
    return 0


def _add_rules_parser(sub) -> None:  # noqa: ANN001 - argparse's private subparsers type
    rules = sub.add_parser("rules", help="rupture-risk rules: back-test a candidate rule set",
                           description="The rupture-risk rules of a territory (docs/rules.md, docs/backtest.md).")
    actions = rules.add_subparsers(dest="action", required=True, metavar="ACTION")
    backtest = actions.add_parser(
        "backtest", help="replay the history with a candidate rule set beside the one in force",
        description="Replay a territory's history (the configured event store) or a generated synthetic "
        "territory (--synthetic N) under the candidate settings of FILE (JSON or TOML, the fields of "
        "`changeTerritorySettings`) and under the settings in force; report per rule the alerts per week "
        "and per worker, the share later dismissed, the share of broken pathways (lost to follow-up, "
        "street exit, missed exit) that had an alert, the median lead time before the break, and the run "
        "time. Nothing is written to the event store. Progress on stderr with --progress.")
    backtest.add_argument("--territory", required=True, help="territory code, e.g. 76")
    backtest.add_argument("--settings", required=True, metavar="FILE", help="candidate settings (JSON or TOML)")
    backtest.add_argument("--from", dest="start", type=date.fromisoformat, default=None, metavar="AAAA-MM-JJ",
                          help="count alerts raised from this day (default: the first fact)")
    backtest.add_argument("--to", dest="end", type=date.fromisoformat, default=None, metavar="AAAA-MM-JJ",
                          help="replay up to the end of this day (default: now); --synthetic: the day it is seen from")
    backtest.add_argument("--synthetic", type=_pathway_count, default=None, metavar="N",
                          help="a generated synthetic territory of N pathways instead of the history")
    backtest.add_argument("--seed", type=int, default=1, help="--synthetic: random seed (default 1)")
    backtest.add_argument("--report", choices=["md"], default="md", help="report format (markdown)")
    backtest.add_argument("--plot", choices=["svg"], default=None, help="plot of alerts per week (SVG)")
    backtest.add_argument("--csv", action="store_true", help="also write the figures as CSV")
    backtest.add_argument("--out", default=None, metavar="PREFIX",
                          help="write PREFIX.md, PREFIX.svg, PREFIX.csv (default: markdown on stdout; "
                          "--plot/--csv need --out)")
    backtest.add_argument("--progress", action="store_true", help="progress on stderr")
    backtest.set_defaults(func=_rules_backtest)

# --------------------------------------------------------------------------- directory (issue 14)
def _directory(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from services.bootstrap import build_directory
    from services.directory.exchange import export_records, import_records, parse_records, validate
    from services.settings import Settings

    directory = build_directory(Settings())
    try:
        if args.action == "export":
            records = export_records(directory.index.services(), args.format)
            problems = validate(records, args.format)
            for problem in problems:
                print(f"relais directory export : invalide : {problem}", file=sys.stderr)
            text = json.dumps(records, ensure_ascii=False, indent=2) + "\n"
            if args.out:
                Path(args.out).write_text(text, encoding="utf-8")
            else:
                sys.stdout.write(text)
            print(f"relais directory export : {len(records)} service(s) au format {args.format}"
                  f"{' -> ' + args.out if args.out else ''}", file=sys.stderr)
            return 1 if problems else 0
        try:
            records = json.loads(Path(args.file).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            print(f"relais directory import : fichier {args.file} illisible ({exc}).", file=sys.stderr)
            return 2
        problems = validate(records, args.format)
        if problems:
            for problem in problems:
                print(f"relais directory import : invalide : {problem}", file=sys.stderr)
            return 1
        answers = import_records(directory, parse_records(records, args.format))
        refused = [a for a in answers if not a.accepted]
        for answer in refused:
            print(f"relais directory import : refusé : {answer.service_id} : {answer.rejection}", file=sys.stderr)
        print(f"relais directory import : {len(records)} service(s) lus, {len(answers) - len(refused)} "
              f"commande(s) appliquée(s) ou déjà là, {len(refused)} refusée(s)", file=sys.stderr)
        return 1 if refused else 0
    finally:
        directory.handler.app.close()


def _add_directory_parser(sub) -> None:  # noqa: ANN001 - argparse's private subparsers type
    directory = sub.add_parser(
        "directory", help="the directory of services: export or import (data·inclusion, HSDS 3.0)",
        description="The directory of services (cartographie). `export` writes every service as data·inclusion "
        "records (validated with the data-inclusion-schema package) or Open Referral HSDS 3.0 services "
        "(validated against the HSDS 3.0 JSON schemas); what a format has no field for is under the "
        "`relais` key, so an export imports back unchanged. `import` validates a file and registers its "
        "services (twice the same file changes nothing).")
    actions = directory.add_subparsers(dest="action", required=True, metavar="ACTION")
    export = actions.add_parser("export", help="every service, as JSON, on stdout or in --out FILE",
                                description="Export the directory; exit 1 if a record fails its format's validation.")
    export.add_argument("--format", required=True, choices=("data-inclusion", "hsds"))
    export.add_argument("--out", default=None, metavar="FILE", help="write to FILE (default: stdout)")
    export.set_defaults(func=_directory)
    imp = actions.add_parser("import", help="register the services of a JSON file",
                             description="Import a data·inclusion or HSDS 3.0 JSON list of services; exit 1 "
                             "if a record is invalid (nothing imported) or refused.")
    imp.add_argument("--format", required=True, choices=("data-inclusion", "hsds"))
    imp.add_argument("file", metavar="FILE")
    imp.set_defaults(func=_directory)


# --------------------------------------------------------------------------- audit (issue 10)
def _audit(args: argparse.Namespace) -> int:
    from services.bootstrap import open_audit_log
    from services.settings import Settings

    settings = Settings()
    audit, close = open_audit_log(settings)
    try:
        problems = audit.verify()
    finally:
        close()
    if problems:
        for problem in problems:
            print(f"relais audit verify : ALTÉRÉ : {problem}", file=sys.stderr)
        return 1
    print("relais audit verify : chaîne intacte (chaque enregistrement correspond à son empreinte et "
          "suit le précédent)")
    return 0


def _retention(args: argparse.Namespace) -> int:
    from datetime import datetime, timezone

    from services.bootstrap import EmbeddedRuntime, bootstrap, build_erasure
    from services.privacy.erasure import CLOSED_PATHWAYS, RetentionPolicy, closed_pathways
    from services.settings import Settings

    settings = Settings()
    runtime = bootstrap(settings)
    try:
        embedded = isinstance(runtime, EmbeddedRuntime)
        erasure = build_erasure(runtime.pathways if embedded else runtime.event_store())
        if erasure is None:
            print("relais retention run : ERREUR : pas de magasin de clés (RELAIS_MASTER_KEYS ou RELAIS_CIPHER_KEY)",
                  file=sys.stderr)
            return 1
        with runtime.readmodels() as conn:
            closed = closed_pathways(conn.execute(CLOSED_PATHWAYS).fetchall())
        policy = RetentionPolicy(settings.retention_days, settings.retention_days_by_territory)
        verb = "à effacer" if args.dry_run else "effacé"

        def said(done: int, total: int, pathways: tuple) -> None:  # noqa: ANN001
            for p in pathways:
                print(f"[{done}/{total}] parcours {p.pathway_id} (territoire {p.territory}, clos le "
                      f"{p.closed_at.date().isoformat()}) : {verb}", flush=True)

        erased = erasure.sweep(closed, policy, now=datetime.now(timezone.utc), dry_run=args.dry_run, on_erased=said)
        if not args.dry_run and isinstance(runtime, EmbeddedRuntime):
            while runtime.relay.run_once():  # embedded: the read models purge them before we exit
                pass
        count = sum(len(p) for p in erased)
        print(f"relais retention run : {len(erased)} personne(s), {count} parcours {verb}"
              + (" (simulation : rien n'a été effacé)" if args.dry_run else ""), flush=True)
        return 0
    finally:
        runtime.close()


def _keys(args: argparse.Namespace) -> int:
    from infra.keystore import new_master_key, rotate
    from services.bootstrap import build_key_store
    from services.settings import Settings

    if args.action == "new":
        print(f"{args.id}:{new_master_key()}")
        return 0
    keys = build_key_store(Settings())
    if keys is None:
        print("relais keys rotate : ERREUR : aucune clé maîtresse (RELAIS_MASTER_KEYS ou RELAIS_CIPHER_KEY)",
              file=sys.stderr)
        return 1
    try:
        done = rotate(keys, sys.stderr)
    finally:
        keys.close()
    print(f"relais keys rotate : {done} clé(s) de données rechiffrée(s) sous la clé maîtresse « "
          f"{keys.masters.current} » ; les anciennes clés maîtresses peuvent être retirées de RELAIS_MASTER_KEYS",
          flush=True)
    return 0


def _add_privacy_parsers(sub) -> None:  # noqa: ANN001 - argparse's private subparsers type
    retention = sub.add_parser(
        "retention", help="erase the persons whose pathways are all closed past the retention period",
        description="Erase (crypto-shredding, legal basis retention_expired) every person whose pathways are all "
        "closed for longer than RELAIS_RETENTION_DAYS (per territory: RELAIS_RETENTION_DAYS_BY_TERRITORY); "
        "prints each pathway erased.")
    actions = retention.add_subparsers(dest="action", required=True, metavar="ACTION")
    run = actions.add_parser("run", help="run the sweep once", description="Run the retention sweep once.")
    run.add_argument("--dry-run", action="store_true", help="say what would be erased, erase nothing")
    run.set_defaults(func=_retention)
    keys = sub.add_parser("keys", help="the master keys of the key store: new, rotate",
                          description="Master keys wrapping the per-person data keys (RELAIS_MASTER_KEYS).")
    key_actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    new = key_actions.add_parser("new", help="print a new master key (id:base64) to put first in RELAIS_MASTER_KEYS",
                                 description="Print a new 256-bit master key as id:base64.")
    new.add_argument("--id", default="k" + __import__("datetime").date.today().strftime("%Y%m%d"),
                     help="its id (default: k<today>)")
    new.set_defaults(func=_keys)
    rotate = key_actions.add_parser(
        "rotate", help="re-wrap every data key under the first master key (progress on stderr)",
        description="Re-wrap every data key wrapped by another master key under the first one of RELAIS_MASTER_KEYS. "
        "The services keep running: every key listed still unwraps until you remove it.")
    rotate.set_defaults(func=_keys)


def _add_audit_parser(sub) -> None:  # noqa: ANN001 - argparse's private subparsers type
    audit = sub.add_parser("audit", help="the audit trail: verify its hash chain",
                           description="The gateway's audit trail (FHIR AuditEvent records, hash-chained).")
    actions = audit.add_subparsers(dest="action", required=True, metavar="ACTION")
    verify = actions.add_parser("verify", help="recompute the hash chain: exit 1 on an edited or deleted record",
                                description="Recompute every record's SHA-256 and its link to the previous one "
                                "(embedded: the SQLite file of RELAIS_STATE_DIR; distributed: PostgreSQL).")
    verify.set_defaults(func=_audit)


def _command(args: argparse.Namespace) -> str:
    """`relais serve`, `relais projections run`...: how a message names the command."""
    action = getattr(args, "action", None)
    return f"relais {args.command}" + (f" {action}" if isinstance(action, str) else "")


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command. A configuration fault found on the way (a setting, an unreachable
    PostgreSQL, a missing migration) is one French line on stderr and exit 1, never a traceback."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except Exception as exc:  # noqa: BLE001 - only the faults `configuration_fault` recognises
        line = configuration_fault(exc)
        if line is None:
            raise
        print(f"{_command(args)} : ERREUR : {line}", file=sys.stderr, flush=True)
        return 1


def configuration_fault(exc: BaseException) -> str | None:
    """The one line saying what is wrong and how to fix it, for an error a setting causes;
    None for anything else (a bug keeps its traceback)."""
    from pydantic import ValidationError

    from infra.postgres.migrations import MigrationError
    from services.checks import CheckFailed, invalid_setting
    from services.settings import Settings

    if isinstance(exc, ValidationError) and exc.title == Settings.__name__:
        return invalid_setting(exc)
    if isinstance(exc, (CheckFailed, MigrationError)):
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    import psycopg
    from psycopg_pool import PoolTimeout

    if isinstance(exc, (psycopg.OperationalError, PoolTimeout)):
        # Lost between the check and the use (or a pool that never got a connection).
        first = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)
        return (f"PostgreSQL injoignable ({first}) : lancez `bash infra/scripts/up.sh` ou corrigez "
                "RELAIS_DATABASE_URL, puis `relais check database`.")
    return None


if __name__ == "__main__":
    sys.exit(main())
