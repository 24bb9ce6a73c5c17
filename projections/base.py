"""What every read model of Relais is made of: tables, a view per table, and a PURE `apply`.

A :class:`Projection` has a ``name``, a ``version`` and a few :class:`Table` definitions. Its
``apply(event)`` turns one :class:`PathwayEvent` (a typed view of the CloudEvent the relay
put on ``relais.pathway-events``) into a list of :class:`Statement` (SQL text with ``%s``
placeholders and its parameters). It reads nothing: no database, no clock.

The SQL stays in a subset that PostgreSQL and SQLite both run, so that the same projection
feeds the distributed mode (PostgreSQL, through the Kafka consumer runner) and the embedded
mode (an SQLite file, through the in-process bus; ``%s`` becomes ``?``):
``INSERT ... ON CONFLICT (...) DO UPDATE / DO NOTHING``, ``INSERT ... SELECT ... WHERE``,
``UPDATE ... SET x = (SELECT COUNT(*) ...)``, ``CASE``, plain arithmetic; JSON is kept as TEXT,
booleans as 0/1 integers, instants as fixed-width UTC ISO text (``2026-03-02T09:00:00.000000Z``,
so text order is time order) and, where a delay is computed, as epoch seconds.

Versioned tables: the physical table of a logical table ``t`` at version ``N`` is ``t_vN``;
readers query the view ``t``. A rebuild fills ``t_v(N+1)`` then repoints the view in one
transaction (see :mod:`projections.schema`), so readers never see an empty or missing table.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from functools import cached_property
from typing import Any, ClassVar

#: Prefix of the CloudEvents types the relay gives pathway events (services.relay.wire).
TYPE_PREFIX = "fr.relais.pathway."

#: Aggregate class name (the `pathwaykind` extension) -> PathwayKind value.
KIND_BY_AGGREGATE = {
    "DetentionPathway": "detention",
    "MaternityPathway": "maternity",
    "SasPathway": "sas",
    "PassGpPathway": "pass_gp",
}
OPENING_EVENTS = {
    "DetentionPathwayOpened": "detention",
    "MaternityPathwayOpened": "maternity",
    "SasPathwayOpened": "sas",
    "PassGpPathwayOpened": "pass_gp",
}


#: Opens the sealed personal part of an event body: (pathway id, body) -> body.
Opener = Callable[[str, Mapping[str, Any]], Mapping[str, Any]]

#: The event after which no row of the pathway may stay in a read model holding personal data.
ERASURE_EVENT = "PersonalDataErased"


class NotAPathwayEvent(ValueError):
    """The CloudEvent is not a pathway event (another type, no subject, no version)."""


@dataclass(frozen=True)
class Statement:
    """One SQL statement with ``%s`` placeholders and its parameters, in order."""

    sql: str
    params: tuple[Any, ...] = ()


def utc_iso(value: Any) -> str | None:
    """A fixed-width UTC ISO text of an instant (text order = time order); dates stay dates."""
    if value is None:
        return None
    if isinstance(value, str):
        if len(value) == 10:  # a date
            return value
        if value.endswith("+00:00") and value[10:11] == "T":  # what the relay writes: no parse needed
            base = value[:-6]
            if len(base) == 19:
                return base + ".000000Z"
            if len(base) == 26 and base[19] == ".":
                return base + "Z"
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not an instant: {value!r}")


def epoch(value: Any) -> float | None:
    """Seconds since 1970 of an ISO instant or date (dates at midnight UTC)."""
    if value is None:
        return None
    if isinstance(value, str):
        if len(value) == 10:
            value = datetime.fromisoformat(value).replace(tzinfo=timezone.utc)
        else:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()


def as_json(value: Any) -> str:
    """JSON text for a TEXT column (sorted keys, so equal values store equal text)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class PathwayEvent:
    """A typed view of one pathway CloudEvent.

    ``name`` is the event class name (``NeedRecorded``), ``version`` its body version (the
    ``.vN`` of the type), ``pathway_id`` the subject, ``data`` the JSON body. ``kind`` is the
    PathwayKind value (``detention``...) when the event tells it (opening events, and events
    defined by one kind: the ``pathwaykind`` extension); events shared by every kind carry the
    base class there, so ``kind`` is None for them: projections keep the kind from the opening.
    """

    id: str
    name: str
    version: int
    pathway_id: str
    kind: str | None
    data: Mapping[str, Any]

    @classmethod
    def from_cloud_event(cls, event: Any, opener: Opener | None = None) -> PathwayEvent:
        """From an :class:`infra.kafka.cloudevents.CloudEvent` (or anything shaped like one).
        `opener(pathway_id, data)` opens the sealed personal part of the body (the runner's key
        store, services.privacy.sealing); without it the part stays sealed."""
        ce_type = str(event.type)
        if not ce_type.startswith(TYPE_PREFIX):
            raise NotAPathwayEvent(f"type {ce_type!r} is not a pathway event")
        name, _, ver = ce_type[len(TYPE_PREFIX):].rpartition(".v")
        if not name or not ver.isdigit():
            raise NotAPathwayEvent(f"type {ce_type!r} has no .v<N> version")
        if not event.subject:
            raise NotAPathwayEvent("no subject (pathway id)")
        data = event.data
        if not isinstance(data, Mapping):
            raise NotAPathwayEvent("data is not a JSON object")
        seq = data.get("originator_version")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            raise NotAPathwayEvent(f"data.originator_version {seq!r} is not a version")
        if opener is not None:
            data = opener(str(event.subject), data)
        extensions = getattr(event, "extensions", None) or {}
        aggregate = extensions.get("pathwaykind")
        kind = KIND_BY_AGGREGATE.get(aggregate, OPENING_EVENTS.get(name))
        return cls(id=str(event.id), name=name, version=int(ver), pathway_id=str(event.subject),
                   kind=kind, data=data)

    # --- the attributes every pathway event carries -------------------------------------
    @property
    def seq(self) -> int:
        """The event's position in its pathway (originator_version)."""
        return int(self.data["originator_version"])

    @property
    def notification_id(self) -> int | None:
        value = self.data.get("notification_id")
        return int(value) if value is not None else None

    @cached_property
    def occurred_at(self) -> str:
        """When the fact happened in the field (UTC ISO)."""
        return utc_iso(self.data.get("occurred_at") or self.data.get("timestamp"))  # type: ignore[return-value]

    @cached_property
    def recorded_at(self) -> str:
        """When the event store recorded it (UTC ISO)."""
        return utc_iso(self.data.get("timestamp") or self.data.get("occurred_at"))  # type: ignore[return-value]

    @property
    def actor(self) -> Mapping[str, Any]:
        actor = self.data.get("actor")
        return actor if isinstance(actor, Mapping) else {}

    @property
    def agency(self) -> str | None:
        return self.actor.get("agency")

    @property
    def professional(self) -> str | None:
        return self.actor.get("professional")

    @property
    def role(self) -> str | None:
        return self.actor.get("role")

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)


@dataclass(frozen=True)
class Table:
    """A logical table: ``columns`` is the SQL column list (portable types only),
    ``key`` its primary key columns, ``indexes`` lists of columns to index."""

    name: str
    columns: str
    key: tuple[str, ...]
    indexes: tuple[tuple[str, ...], ...] = ()

    def physical(self, version: int) -> str:
        return f"{self.name}_v{version}"

    def ddl(self, version: int) -> list[str]:
        phys = self.physical(version)
        out = [f"CREATE TABLE IF NOT EXISTS {phys} ({self.columns}, PRIMARY KEY ({', '.join(self.key)}))"]
        for i, cols in enumerate(self.indexes):
            out.append(f"CREATE INDEX IF NOT EXISTS {phys}_i{i} ON {phys} ({', '.join(cols)})")
        return out


#: Suffix of the table every projection gets: per pathway, the last version (seq) applied.
APPLIED = "applied"


def applied_table(name: str) -> Table:
    """``<projection>_applied(pathway_id, seq)``: how far the projection has applied each
    pathway. Written in the same transaction as the projection's rows (it is one more
    statement of :meth:`Projection.statements`), so a reader that sees ``seq >= N`` sees the
    rows of version N: what read-your-writes and "consent in effect" wait on."""
    return Table(f"{name}_{APPLIED}", "pathway_id TEXT NOT NULL, seq BIGINT NOT NULL", ("pathway_id",))


class Projection:
    """Base of every read model. Subclasses set ``name``, ``tables`` and implement ``apply``.

    ``Projection(version=N)`` is bound to physical tables ``<table>_vN``; ``self.t[name]``
    gives the physical name of a logical table (use it in the SQL of ``apply``). Every
    subclass also gets the table :func:`applied_table` (appended to its ``tables``), written
    by :meth:`statements` after each event, or by :func:`projections.apply.apply_once` (the
    runners' one step) once per pathway and batch: never ``apply`` without it.
    """

    name: ClassVar[str]
    tables: ClassVar[Sequence[Table]]
    #: False: the projection's rows of a pathway are deleted when its person is erased
    #: (ERASURE_EVENT). True only for read models holding no personal data at all, only the
    #: structure indicators count (territory, kind, dates, outcomes, rules).
    kept_after_erasure: ClassVar[bool] = False
    #: French one-line description (``relais projections list``).
    title: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "tables" in cls.__dict__ and "name" in cls.__dict__:
            applied = applied_table(cls.name)
            if all(t.name != applied.name for t in cls.tables):
                cls.tables = (*cls.tables, applied)

    def __init__(self, version: int = 1) -> None:
        if version < 1:
            raise ValueError("version >= 1")
        self.version = version
        self.t: dict[str, str] = {t.name: t.physical(version) for t in self.tables}

    def at_version(self, version: int) -> Projection:
        return type(self)(version)

    def group_id(self, prefix: str) -> str:
        """The Kafka consumer group of this projection at this version, in the deployment of
        topic prefix `prefix` (infra.kafka.topics.group_id)."""
        from infra.kafka.topics import group_id

        return group_id(prefix, f"proj-{self.name}-v{self.version}")

    def ddl(self) -> list[str]:
        return [stmt for table in self.tables for stmt in table.ddl(self.version)]

    def apply(self, event: PathwayEvent) -> list[Statement]:  # pragma: no cover - abstract
        raise NotImplementedError

    def statements(self, event: PathwayEvent) -> list[Statement]:
        """What a runner executes for ``event``: :meth:`event_statements`, then the pathway's
        applied version (:meth:`applied_statement`)."""
        return [*self.event_statements(event), self.applied_statement(event.pathway_id, event.seq)]

    def event_statements(self, event: PathwayEvent) -> list[Statement]:
        """The rows ``event`` writes: :meth:`apply`, and on an erasure :meth:`erasure`."""
        return [*self.apply(event), *self.erasure(event)]

    def applied_statement(self, pathway_id: str, seq: int) -> Statement:
        """The pathway's applied version set to ``seq`` (never moved back: a re-delivered
        older event leaves it as it is). A batch needs it once per pathway, after the
        pathway's last event (projections.apply.apply_once): no projection reads it."""
        table = self.t[applied_table(self.name).name]
        return Statement(
            f"INSERT INTO {table} (pathway_id, seq) VALUES (%s, %s) ON CONFLICT (pathway_id) DO UPDATE SET "
            f"seq = CASE WHEN {table}.seq < excluded.seq THEN excluded.seq ELSE {table}.seq END",
            (pathway_id, seq))

    def erasure(self, event: PathwayEvent) -> list[Statement]:
        """On the erasure of the pathway's person: every row of the pathway deleted, from every
        table keyed by pathway (the applied table aside: re-delivered older events must stay
        skipped)."""
        if event.name != ERASURE_EVENT or self.kept_after_erasure:
            return []
        applied = applied_table(self.name).name
        return [Statement(f"DELETE FROM {self.t[t.name]} WHERE pathway_id = %s", (event.pathway_id,))
                for t in self.tables if t.name != applied and "pathway_id TEXT" in t.columns]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} v{self.version}>"


def dispatch(projection: Projection, event: PathwayEvent) -> list[Statement]:
    handler = getattr(projection, f"on_{event.name}", None)
    if handler is None:
        return []
    return list(handler(event))
