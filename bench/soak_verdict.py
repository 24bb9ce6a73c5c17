"""The soak harness's verdict (bench/soak.py): pure functions over what the run observed.

No I/O here: :func:`decide` takes an :class:`Observed` (what the store, the read models, the
topics and the load generator say once the platform is quiet) and returns a :class:`Verdict`,
whose checks each say what was expected, what was found and whether it holds.
tests/unit/test_soak_verdict.py shows it finds a loss, a duplicate and a missed alert.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class SentCommand:
    """A command the load sent through the gateway, and its final answer."""

    command_id: str
    pathway_id: str
    command: str
    outcome: str  # "accepted" | "refused" | "unanswered"
    version: int | None = None
    duplicate: bool = False  # answered from the idempotency record (a retry of an applied command)
    code: str | None = None
    attempts: int = 1


@dataclass(frozen=True)
class SentInbound:
    """A partner message the load published on `<prefix>.inbound.<agency>` (acked by the broker)."""

    ce_id: str
    agency: str
    command_id: str  # what ingest derives from (agency, ce_id)
    pathway_id: str
    command: str


@dataclass(frozen=True)
class Processed:
    """A `CommandProcessed` record of the event store: the handler's answer to a command id."""

    command_id: str
    pathway_id: str
    command: str
    accepted: bool
    version: int | None
    new_events: int


@dataclass(frozen=True)
class Fault:
    kind: str  # "kill -9" | "restart"
    target: str  # service name, "kafka" or "postgresql"
    at_s: float  # seconds since the load began
    recovered_s: float | None  # None: not recovered before the deadline


@dataclass(frozen=True)
class Memory:
    name: str
    rss_start_kb: int | None
    rss_end_kb: int | None
    restarts: int


@dataclass
class Observed:
    sent: list[SentCommand]
    inbound: list[SentInbound]
    processed: list[Processed]
    #: pathway id -> versions of its pathway events in the store (1..n when nothing is lost).
    store_versions: dict[str, list[int]]
    #: projection name -> pathway id -> last version it applied (`<name>_applied`).
    applied: dict[str, dict[str, int]]
    #: pathway id -> rows of the `timeline` read model (one per event).
    timeline_rows: dict[str, int]
    #: alert ids raised in the store (AlertRaised), and in the `alerts` read model.
    alerts_in_store: list[str]
    alerts_in_read_model: list[str]
    #: (pathway id, rule, subject) the rules find today that are not resolved by hand, replayed over the store.
    expected_alerts: list[tuple[str, str, str]]
    #: (pathway id, rule, subject, alert id) of every open alert of the catalogue's rules in the store.
    open_alerts: list[tuple[str, str, str, str]]
    #: alert ids on `<prefix>.alerts` with change "raised", and every ce_id of that topic.
    alerts_topic_raised: list[str]
    alerts_topic_ce_ids: list[str]
    #: ce_ids (of the inbound topics) found on the dead-letter topic, with their reason.
    deadlettered: dict[str, str]
    faults: list[Fault]
    memory: list[Memory]
    queries_ok: int = 0
    queries_failed: int = 0
    duration_s: float = 0.0
    settle_s: float | None = None
    #: records on `<prefix>.pathway-events` (more than the store's events: the relay published
    #: some twice after a kill, which every consumer drops by ce_id).
    pathway_topic_records: int = 0


@dataclass(frozen=True)
class Check:
    name: str
    expected: str
    found: str
    ok: bool
    examples: tuple[str, ...] = ()


@dataclass
class Verdict:
    checks: list[Check] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def add(self, name: str, expected: str, found: str, ok: bool, examples: list[str] | None = None) -> None:
        self.checks.append(Check(name, expected, found, ok, tuple((examples or [])[:5])))

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [asdict(c) for c in self.checks], "figures": self.figures}


def decide(o: Observed) -> Verdict:
    v = Verdict()
    _commands(o, v)
    _store(o, v)
    _read_models(o, v)
    _alerts(o, v)
    _faults(o, v)
    return v


def _commands(o: Observed, v: Verdict) -> None:
    outcomes = Counter(s.outcome for s in o.sent)
    refusals = Counter(s.code for s in o.sent if s.outcome == "refused")
    v.figures["commands"] = {
        "sent": len(o.sent), "accepted": outcomes["accepted"], "refused": outcomes["refused"],
        "unanswered": outcomes["unanswered"], "retried": sum(1 for s in o.sent if s.attempts > 1),
        "answered_as_duplicate": sum(1 for s in o.sent if s.duplicate),
        "refusal_codes": dict(refusals.most_common()),
        "inbound_published": len(o.inbound),
        "queries_ok": o.queries_ok, "queries_failed": o.queries_failed,
    }
    processed = {p.command_id: p for p in o.processed}
    versions = {pid: max(vs, default=0) for pid, vs in o.store_versions.items()}
    lost = [s.command_id for s in o.sent if s.outcome == "accepted"
            and (s.command_id not in processed or not processed[s.command_id].accepted
                 or versions.get(s.pathway_id, 0) < (s.version or 0))]
    accepted = outcomes["accepted"]
    v.add("commandes acceptées présentes dans le journal",
          f"{accepted} sur {accepted}", f"{accepted - len(lost)} sur {accepted}", not lost, lost)
    wrong = [s.command_id for s in o.sent if s.outcome == "refused" and s.command_id in processed
             and processed[s.command_id].accepted]
    v.add("commandes refusées non appliquées", "0 appliquée", f"{len(wrong)} appliquée(s)", not wrong, wrong)
    unanswered = [s.command_id for s in o.sent if s.outcome == "unanswered"]
    v.add("commandes sans réponse", "0", str(len(unanswered)), not unanswered, unanswered)
    # Every partner message acked by the broker was handled: applied or refused (a CommandProcessed
    # record), or dead-lettered with a reason. None vanished.
    vanished = [m.ce_id for m in o.inbound if m.command_id not in processed and m.ce_id not in o.deadlettered]
    v.figures["inbound"] = {
        "published": len(o.inbound), "applied": sum(1 for m in o.inbound if m.command_id in processed
                                                    and processed[m.command_id].accepted),
        "refused": sum(1 for m in o.inbound if m.command_id in processed and not processed[m.command_id].accepted),
        "deadlettered": sum(1 for m in o.inbound if m.ce_id in o.deadlettered and m.command_id not in processed),
        "deadletter_reasons": dict(Counter(o.deadlettered[m.ce_id] for m in o.inbound
                                           if m.ce_id in o.deadlettered).most_common(5)),
    }
    v.add("messages partenaires traités (appliqués, refusés ou en lettre morte)",
          f"{len(o.inbound)} sur {len(o.inbound)}", f"{len(o.inbound) - len(vanished)} sur {len(o.inbound)}",
          not vanished, vanished)


def _store(o: Observed, v: Verdict) -> None:
    """Each accepted CommandProcessed says how many events it wrote: the store holds exactly
    their sum for each pathway (more is a duplicate, fewer a loss), at versions 1..n."""
    written: Counter[str] = Counter()
    for p in o.processed:
        if p.accepted:
            written[p.pathway_id] += p.new_events
    counts = {pid: len(vs) for pid, vs in o.store_versions.items()}
    events = sum(counts.values())
    v.figures["store"] = {"pathways": len(counts), "pathway_events": events,
                          "commands_processed": len(o.processed), "topic_records": o.pathway_topic_records,
                          "relay_republished": max(0, o.pathway_topic_records - events)}
    extra = [pid for pid in counts if counts[pid] > written.get(pid, 0)]
    missing = [pid for pid in set(counts) | set(written) if counts.get(pid, 0) < written.get(pid, 0)]
    v.add("doublons dans le journal (événements au-delà de ce que les commandes ont écrit)", "0",
          str(sum(counts[p] - written.get(p, 0) for p in extra)), not extra, extra)
    v.add("événements manquants dans le journal", "0",
          str(sum(written[p] - counts.get(p, 0) for p in missing)), not missing, missing)
    gaps = [pid for pid, vs in o.store_versions.items() if sorted(vs) != list(range(1, len(vs) + 1))]
    v.add("versions contiguës par parcours", "1..n", f"{len(gaps)} parcours troués", not gaps, gaps)


def _read_models(o: Observed, v: Verdict) -> None:
    versions = {pid: max(vs) for pid, vs in o.store_versions.items() if vs}
    total = sum(len(vs) for vs in o.store_versions.values())
    v.figures["read_models"] = {}
    for name, applied in sorted(o.applied.items()):
        behind = [pid for pid, ver in versions.items() if applied.get(pid, 0) < ver]
        ahead = [pid for pid, seq in applied.items() if seq > versions.get(pid, 0)]
        v.figures["read_models"][name] = sum(min(applied.get(pid, 0), ver) for pid, ver in versions.items())
        v.add(f"lecture {name} : événements appliqués = événements du journal", str(total),
              str(v.figures["read_models"][name]) + (f", {len(ahead)} parcours en avance" if ahead else ""),
              not behind and not ahead, behind + ahead)
    rows = sum(o.timeline_rows.values())
    off = [pid for pid in set(versions) | set(o.timeline_rows)
           if o.timeline_rows.get(pid, 0) != len(o.store_versions.get(pid, []))]
    v.add("lignes de timeline = événements du journal", str(total), str(rows), not off, off)
    store, read = Counter(o.alerts_in_store), Counter(o.alerts_in_read_model)
    v.add("alertes du journal = lignes du modèle alerts", str(len(store)), str(len(read)),
          set(store) == set(read) and all(n == 1 for n in read.values()),
          sorted(set(store) ^ set(read)) + [a for a, n in read.items() if n > 1])


def _alerts(o: Observed, v: Verdict) -> None:
    raised = Counter(o.alerts_in_store)
    twice = [a for a, n in raised.items() if n > 1]
    v.add("chaque alerte levée une seule fois (AlertRaised par identifiant)", "0 en double", str(len(twice)),
          not twice, twice)
    open_keys = Counter((p, r, s) for p, r, s, _ in o.open_alerts)
    doubled = [f"{p} {r} {s}" for (p, r, s), n in open_keys.items() if n > 1]
    v.add("au plus une alerte ouverte par (parcours, règle, sujet)", "0", str(len(doubled)), not doubled, doubled)
    expected = set(o.expected_alerts)
    missed = sorted(f"{p} {r} {s}" for p, r, s in expected - set(open_keys))
    stale = sorted(f"{p} {r} {s}" for p, r, s in set(open_keys) - expected)
    v.figures["alerts"] = {"expected_open_by_replay": len(expected), "open": len(open_keys),
                           "raised_in_store": len(raised)}
    v.add("alertes attendues (rejeu des règles sur le journal) ouvertes", str(len(expected)),
          f"{len(expected) - len(missed)} ouvertes, {len(missed)} manquées", not missed, missed)
    v.add("alertes ouvertes que les règles ne trouvent plus (non résolues)", "0", str(len(stale)), not stale, stale)
    published = set(o.alerts_topic_raised)
    unpublished = sorted(set(raised) - published)
    republished = sum(n - 1 for n in Counter(o.alerts_topic_ce_ids).values() if n > 1)
    v.figures["alerts"]["republished_same_ce_id"] = republished
    v.add("alertes levées publiées sur le topic alerts", str(len(raised)), str(len(set(raised) & published)),
          not unpublished, unpublished)


def _faults(o: Observed, v: Verdict) -> None:
    unrecovered = [f"{f.target} à {f.at_s:.0f} s" for f in o.faults if f.recovered_s is None]
    v.add("chaque panne rétablie", f"{len(o.faults)} sur {len(o.faults)}",
          f"{len(o.faults) - len(unrecovered)} sur {len(o.faults)}", not unrecovered, unrecovered)
    times = sorted(f.recovered_s for f in o.faults if f.recovered_s is not None)
    v.figures["faults"] = {
        "injected": len(o.faults), "kills": sum(1 for f in o.faults if f.kind == "kill -9"),
        "recovery_s_median": times[len(times) // 2] if times else None, "recovery_s_max": times[-1] if times else None,
    }


def markdown(o: Observed, v: Verdict, command: str) -> str:
    """The verdict as docs/reliability.md shows it."""
    c = v.figures["commands"]
    lines = [
        f"Commande : `{command}`", "",
        f"Durée de charge {o.duration_s:.0f} s ; retour au calme en "
        f"{'%.0f s' % o.settle_s if o.settle_s is not None else 'plus que le délai'}. "
        f"Verdict : **{'OK' if v.ok else 'ÉCHEC'}**.", "",
        "| commandes (gateway) | envoyées | acceptées | refusées | sans réponse | renvoyées | réponse « déjà traitée » |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        f"| | {c['sent']} | {c['accepted']} | {c['refused']} | {c['unanswered']} | {c['retried']} | "
        f"{c['answered_as_duplicate']} |", "",
    ]
    i = v.figures["inbound"]
    lines += [f"Messages partenaires (Kafka) : {i['published']} publiés, {i['applied']} appliqués, {i['refused']} "
              f"refusés, {i['deadlettered']} en lettre morte. Requêtes : {c['queries_ok']} réussies, "
              f"{c['queries_failed']} en échec (pendant les pannes).", ""]
    st, al = v.figures["store"], v.figures["alerts"]
    lines += [f"Journal : {st['pathway_events']} événements de {st['pathways']} parcours, "
              f"{st['commands_processed']} commandes traitées (dont celles du moteur de risque) ; "
              f"{st['topic_records']} enregistrements sur pathway-events ({st['relay_republished']} republiés par "
              f"le relais après un kill, écartés par ce_id) ; {al['raised_in_store']} alertes levées, "
              f"{al['republished_same_ce_id']} republications sur le topic alerts (même ce_id).", ""]
    if c["refusal_codes"]:
        lines += ["Refus par code : " + ", ".join(f"{k} {n}" for k, n in c["refusal_codes"].items()) + ".", ""]
    lines += ["| contrôle | attendu | trouvé | |", "| --- | --- | --- | --- |"]
    for check in v.checks:
        lines.append(f"| {check.name} | {check.expected} | {check.found} | {'ok' if check.ok else '**ÉCHEC**'} |")
    lines += ["", "| panne | à (s) | rétablie en (s) |", "| --- | --- | --- |"]
    for f in o.faults:
        lines.append(f"| {f.kind} {f.target} | {f.at_s:.0f} | "
                     f"{'%.1f' % f.recovered_s if f.recovered_s is not None else '**non**'} |")
    lines += ["", "| processus | RSS au début (Mo) | RSS à la fin (Mo) | redémarrages |", "| --- | --- | --- | --- |"]
    for m in o.memory:
        lines.append(f"| {m.name} | {_mb(m.rss_start_kb)} | {_mb(m.rss_end_kb)} | {m.restarts} |")
    failed = [c for c in v.checks if not c.ok and c.examples]
    if failed:
        lines += ["", "Exemples des contrôles en échec :"]
        lines += [f"- {c.name} : {', '.join(c.examples)}" for c in failed]
    return "\n".join(lines) + "\n"


def _mb(kb: int | None) -> str:
    return "?" if kb is None else f"{kb / 1024:.0f}"
