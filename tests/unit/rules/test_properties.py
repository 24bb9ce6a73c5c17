"""Properties of the catalogue over generated histories of all four pathway kinds."""

from __future__ import annotations

import copy
import os
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain import disclosure as catalogue
from domain.rules import CATALOGUE, evaluate, new_findings, next_deadline, resolved_findings
from domain.values import ClosureOutcome
from tests.unit.rules.builders import MICRO, RISK, keys, raise_alert_for
from tests.unit.rules.histories import histories

#: RELAIS_PROPERTY_EXAMPLES=5000 for a long run; 200 keeps the unit suite quick.
PROPERTY = settings(max_examples=int(os.environ.get("RELAIS_PROPERTY_EXAMPLES", "200")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
offsets = st.integers(-300, 1500).map(lambda h: timedelta(hours=h))


@PROPERTY
@given(histories(), offsets)
def test_rules_are_deterministic_and_leave_the_pathway_untouched(played, offset) -> None:
    pathway, now, territory = played.pathway, played.end + offset, played.settings
    before = copy.deepcopy(vars(pathway))

    first = evaluate(pathway, now, territory)
    second = evaluate(pathway, now, territory)
    deadline = next_deadline(pathway, now, territory)
    resolved_findings(pathway.open_alerts, first, pathway)
    new_findings(pathway.open_alerts, first)

    assert first == second
    assert deadline == next_deadline(pathway, now, territory)
    assert vars(pathway) == before


@PROPERTY
@given(histories(), offsets)
def test_a_closed_pathway_yields_no_finding_and_no_deadline(played, offset) -> None:
    pathway, now, territory = played.pathway, played.end + offset, played.settings
    if not pathway.is_closed:
        pathway.close(outcome=ClosureOutcome.OTHER, reason="relais terminé",
                      actor=type(pathway.last_actor)(pathway.lead_agency, "pro", "référent"), occurred_at=played.end)
    assert evaluate(pathway, now, territory) == []
    assert next_deadline(pathway, now, territory) is None
    for rule in CATALOGUE:
        assert rule.check(pathway, now, territory) == []


@PROPERTY
@given(histories(), offsets)
def test_the_next_deadline_is_in_the_future_and_the_first_moment_a_finding_appears(played, offset) -> None:
    pathway, now, territory = played.pathway, played.end + offset, played.settings
    overall = next_deadline(pathway, now, territory)
    per_rule = [d for rule in CATALOGUE if (d := rule.next_deadline(pathway, now, territory)) is not None]
    assert overall == (min(per_rule) if per_rule else None)
    for rule in CATALOGUE:
        deadline = rule.next_deadline(pathway, now, territory)
        if not rule.deadline_driven:
            assert deadline is None
            continue
        if deadline is None:
            continue
        assert deadline > now
        found_now = keys(rule.check(pathway, now, territory))
        for moment in (now + (deadline - now) / 2, deadline - MICRO):
            assert keys(rule.check(pathway, moment, territory)) == found_now, (rule.rule_id, moment)
        assert keys(rule.check(pathway, deadline, territory)) > found_now, rule.rule_id


@PROPERTY
@given(histories(), offsets, offsets)
def test_moving_now_backwards_never_adds_findings_of_deadline_driven_rules(played, offset, back) -> None:
    pathway, now, territory = played.pathway, played.end + offset, played.settings
    earlier = now - abs(back)
    for rule in CATALOGUE:
        if rule.deadline_driven:
            assert keys(rule.check(pathway, earlier, territory)) <= keys(rule.check(pathway, now, territory)), rule.rule_id


@PROPERTY
@given(histories(), offsets)
def test_every_finding_is_explained_owned_and_unique(played, offset) -> None:
    pathway, now, territory = played.pathway, played.end + offset, played.settings
    findings = evaluate(pathway, now, territory)
    assert len({f.key for f in findings}) == len(findings)
    deadline_driven = {rule.rule_id for rule in CATALOGUE if rule.deadline_driven}
    for finding in findings:
        assert finding.owner_agency and finding.suggested_action and finding.triggering_facts
        assert finding.rule_id in {rule.rule_id for rule in CATALOGUE}
        if finding.rule_id in deadline_driven:
            assert finding.since <= now, finding.key
    # What is raised is never already open; what is resolved is open and no longer found.
    open_keys = {(a.rule_id, a.subject) for a in pathway.open_alerts}
    assert not {f.key for f in new_findings(pathway.open_alerts, findings)} & open_keys
    for resolution in resolved_findings(pathway.open_alerts, findings, pathway):
        assert (resolution.rule_id, resolution.subject) in open_keys - {f.key for f in findings}
        assert resolution.reason


@PROPERTY
@given(histories(), offsets)
def test_a_pathway_replayed_from_its_events_yields_the_same_findings(played, offset) -> None:
    pathway, now, territory = played.pathway, played.end + offset, played.settings
    replayed = None
    for stored in copy.deepcopy(pathway).collect_events():
        replayed = stored.mutate(replayed)
    assert evaluate(replayed, now, territory) == evaluate(pathway, now, territory)
    assert next_deadline(replayed, now, territory) == next_deadline(pathway, now, territory)


def _engine_pass(pathway, now, territory) -> None:
    """What the engine does at `now`, in memory: update the open alerts still found, raise the
    new findings, resolve the others."""
    findings = evaluate(pathway, now, territory)
    by_key = {f.key: f for f in findings}
    for alert in list(pathway.open_alerts):
        finding = by_key.get((alert.rule_id, alert.subject))
        if finding is not None:
            pathway.update_alert(alert_id=alert.alert_id, owner_agency=finding.owner_agency,
                                 suggested_action=finding.suggested_action, severity=finding.severity,
                                 actor=RISK, occurred_at=max(now, pathway.modified_on))
    for finding in new_findings(pathway.open_alerts, findings):
        raise_alert_for(pathway, finding, max(now, pathway.modified_on))
    for resolution in resolved_findings(pathway.open_alerts, findings, pathway):
        pathway.resolve_alert(alert_id=resolution.alert_id, reason=resolution.reason, actor=RISK,
                              occurred_at=max(now, pathway.modified_on))


@PROPERTY
@given(histories(), offsets)
def test_every_open_alert_has_a_participating_owner_that_can_read_it_and_send_a_command_that_resolves_it(
    played, offset,
) -> None:
    pathway, now, territory = copy.deepcopy(played.pathway), played.end + offset, played.settings
    if pathway.is_closed:
        return
    _engine_pass(pathway, now, territory)
    for alert in pathway.open_alerts:
        role = pathway.participants.get(alert.owner_agency)
        assert role is not None, (alert.rule_id, alert.owner_agency, "does not take part")
        text = catalogue.alert_category(alert.rule_id, alert.subject)
        staff = catalogue.PARTICIPANT_STAFF[role]
        readers = {r for r in staff if text in catalogue.ROLE_NEEDS[r]}
        assert readers, (alert.rule_id, alert.subject, role, "nobody there reads", text)
        resolving = catalogue.rule_entry(alert.rule_id).resolved_by
        assert any(catalogue.role_may_write(r, catalogue.command_category(c)) for r in readers for c in resolving), (
            alert.rule_id, role, resolving)
