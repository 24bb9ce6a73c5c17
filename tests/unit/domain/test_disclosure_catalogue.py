"""The disclosure catalogue is complete and closed: every event type of every aggregate, every
command and every rule has exactly one entry, a name it does not know is refused (never given a
default category), and every label is French text a screen can show."""

from __future__ import annotations

import re
from uuid import uuid4

import pytest

from domain import PATHWAY_CLASSES, Pathway
from domain import disclosure as catalogue
from domain.errors import NotInCatalogue, UnknownCommand, UnknownEventType, UnknownNeedCategory, UnknownRule
from domain.rules import CATALOGUE, RULES
from domain.values import InformationCategory, NeedCategory, ParticipantRole
from services.pathways.commands import COMMANDS
from tests.unit.domain.conftest import PASS, at

I, S, A, M = (InformationCategory.IDENTITY, InformationCategory.SOCIAL, InformationCategory.ADMINISTRATIVE,
              InformationCategory.MEDICAL)
#: The library's own classes on every aggregate: no pathway ever records them.
LIBRARY_EVENTS = {"Event", "Created"}


def domain_event_types() -> set[str]:
    """Every `@event` class of the base Pathway and of the four kinds, read from the classes."""
    names: set[str] = set()
    for cls in (Pathway, *PATHWAY_CLASSES.values()):
        names |= {name for name, value in vars(cls).items()
                  if isinstance(value, type) and issubclass(value, Pathway.Event)}
    return names - LIBRARY_EVENTS


def test_every_event_type_of_every_aggregate_has_exactly_one_catalogue_entry() -> None:
    types = domain_event_types()
    assert len(types) == 65  # 60 + PersonalDataErased (11) + LeadHandedOver, ConferencePresenceConfirmed (10) + ObjectionRecorded, EmergencyAccessOpened (11)
    assert set(catalogue.EVENTS) == types, (types - set(catalogue.EVENTS), set(catalogue.EVENTS) - types)


def test_every_command_of_the_pathways_service_has_exactly_one_catalogue_entry() -> None:
    assert set(catalogue.COMMANDS) == set(COMMANDS), (set(COMMANDS) ^ set(catalogue.COMMANDS))


def test_every_rule_of_the_risk_catalogue_has_exactly_one_entry_and_takes_its_title_from_it() -> None:
    assert list(catalogue.RULES) == [rule.rule_id for rule in CATALOGUE]
    for rule in CATALOGUE:
        assert rule.title == catalogue.rule_label(rule.rule_id)


def test_every_need_category_has_an_information_category() -> None:
    assert set(catalogue.NEED_CATEGORIES) == set(NeedCategory)


@pytest.mark.parametrize("lookup, error", [
    (lambda: catalogue.event_entry("PathwayTeleported"), UnknownEventType),
    (lambda: catalogue.event_category("PathwayTeleported", {}), UnknownEventType),
    (lambda: catalogue.event_label("PathwayTeleported"), UnknownEventType),
    (lambda: catalogue.command_entry("TeleportPathway"), UnknownCommand),
    (lambda: catalogue.command_category("TeleportPathway"), UnknownCommand),
    (lambda: catalogue.rule_entry("moon-phase"), UnknownRule),
    (lambda: catalogue.alert_category("moon-phase", "pathway"), UnknownRule),
    (lambda: catalogue.event_category("AlertRaised", {"rule_id": "moon-phase", "alert_id": "a"}), UnknownRule),
    (lambda: catalogue.need_category("astrology"), UnknownNeedCategory),
    (lambda: catalogue.event_category("NeedRecorded", {"category": "astrology", "need_id": "n"}), UnknownNeedCategory),
])
def test_a_name_the_catalogue_does_not_know_is_refused_with_a_named_error_never_defaulted(lookup, error) -> None:
    with pytest.raises(error) as raised:
        lookup()
    assert isinstance(raised.value, NotInCatalogue)
    assert "inconnu" in raised.value.reason  # French: it reaches dead-letter reasons and screens


def test_raising_an_alert_of_a_rule_outside_the_catalogue_is_refused_by_the_pathway(pass_gp) -> None:
    before = len(pass_gp.pending_events)
    with pytest.raises(UnknownRule) as raised:
        pass_gp.raise_alert(alert_id=uuid4(), rule_id="moon-phase", subject="pathway", triggering_event_ids=[],
                            owner_agency=PASS.agency, suggested_action="Rien.", severity="low", actor=PASS,
                            occurred_at=at(1))
    assert raised.value.field == "rule_id"
    assert len(pass_gp.pending_events) == before and not pass_gp.alerts


FRENCH_WORDS = re.compile(r"^[A-ZÀ-Ý][A-Za-zÀ-ÿ0-9' →,:()«»\-]*$")


def _labels() -> list[tuple[str, str]]:
    return ([(name, entry.label) for name, entry in catalogue.EVENTS.items()]
            + [(name, entry.label) for name, entry in catalogue.COMMANDS.items()]
            + [(name, entry.label) for name, entry in catalogue.RULES.items()])


@pytest.mark.parametrize("name, label", _labels())
def test_every_label_is_non_empty_french_text_not_the_code_name(name: str, label: str) -> None:
    assert label.strip() == label and label
    assert FRENCH_WORDS.match(label), label
    assert not re.search(r"[a-z][A-Z]", label), f"{label!r} looks like a code name"
    assert label != name and "_" not in label


def test_labels_are_unique_so_that_two_kinds_of_fact_never_read_the_same() -> None:
    for table in (catalogue.EVENTS, catalogue.COMMANDS, catalogue.RULES):
        labels = [entry.label for entry in table.values()]
        assert len(labels) == len(set(labels)), sorted(label for label in labels if labels.count(label) > 1)


# --------------------------------------------------------------------------- the decisions
def test_a_need_is_as_sensitive_as_what_it_is_about_and_so_is_the_event_saying_it_was_met() -> None:
    recorded = {"need_id": "n1", "category": "addiction"}
    subjects = catalogue.Subjects()
    assert subjects.categorise("NeedRecorded", recorded) is M
    assert subjects.categorise("NeedMet", {"need_id": "n1"}) is M
    subjects.categorise("NeedRecorded", {"need_id": "n2", "category": "health_coverage"})
    assert subjects.categorise("NeedMet", {"need_id": "n2"}) is A
    # A need never recorded: the narrowest category, never a guess.
    assert catalogue.event_category("NeedMet", {"need_id": "n9"}) is M


def test_a_referral_takes_its_target_service_and_its_need_and_its_later_steps_follow_it() -> None:
    subjects = catalogue.Subjects()
    subjects.categorise("NeedRecorded", {"need_id": "n1", "category": "housing"})
    assert subjects.categorise("ReferralMade", {"referral_id": "r1", "to_agency": "csapa-rouen",
                                                "service": "addictologie", "need_id": None}) is M
    assert subjects.categorise("ReferralMade", {"referral_id": "r2", "to_agency": "siao-76",
                                                "service": "hébergement d'urgence", "need_id": "n1"}) is S
    assert subjects.categorise("ReferralStatusChanged", {"referral_id": "r1", "status": "accepted"}) is M
    assert subjects.categorise("ReferralOutcomeRecorded", {"referral_id": "r2", "outcome": "honoured"}) is S


def test_an_alert_reveals_what_its_rule_or_its_subject_reveals_for_every_step_of_its_life() -> None:
    subjects = catalogue.Subjects()
    raised = {"alert_id": "a1", "rule_id": "treatment-continuity", "subject": "treatment:t1"}
    assert subjects.categorise("AlertRaised", raised) is M
    assert subjects.categorise("AlertRaised", {**raised, "alert_id": "a2", "rule_id": "exit-without-housing",
                                               "subject": "exit"}) is S
    assert subjects.categorise("AlertResolved", {"alert_id": "a1", "reason": "Suivi programmé"}) is M
    assert subjects.categorise("AlertUpdated", {"alert_id": "a1", "owner_agency": "csapa-rouen"}) is M
    assert subjects.categorise("AlertDismissed", {"alert_id": "a1", "reason": "false_alarm"}) is M
    assert subjects.categorise("AlertAcknowledged", {"alert_id": "a2"}) is S
    assert catalogue.event_label("AlertRaised", raised) == "Alerte déclenchée : Continuité du traitement à la sortie"


@pytest.mark.parametrize("name, category", [
    ("AppointmentBooked", M), ("InterpreterBooked", S), ("InterpreterNeedRecorded", S), ("AgencyJoined", A),
    ("ContactAttempted", I), ("PhoneStatusRecorded", I), ("NewbornRegistered", M), ("DischargeDateSet", A),
    ("Discharged", A), ("GpSearchStarted", M), ("FollowUpCallMade", M),
])
def test_the_events_the_two_former_copies_disagreed_on_have_the_decided_category(name, category) -> None:
    assert catalogue.event_category(name, {}) is category


def test_a_record_need_command_writes_the_category_of_its_need() -> None:
    assert catalogue.command_category("RecordNeed", {"category": "addiction"}) is M
    assert catalogue.command_category("RecordNeed", {"category": "health_coverage"}) is A
    assert catalogue.command_category("RecordNeed", {"category": "housing"}) is S
    assert catalogue.command_category("BookInterpreter") is S  # the social worker who booked the appointment


def test_the_gateway_permissions_read_the_role_needs_table_of_the_catalogue() -> None:
    from gateway import permissions

    assert permissions.Role is catalogue.Role
    assert permissions.ROLE_NEEDS is catalogue.ROLE_NEEDS
    assert permissions.CASE_ROLES is catalogue.CASE_ROLES
    assert permissions.CARE_TEAM_ROLES is catalogue.CARE_TEAM_ROLES
    assert not catalogue.role_may_write("benevole", M) and catalogue.role_may_write("medecin", M)
    assert not catalogue.role_may_write("not-a-role", I)


def test_the_rules_of_the_risk_catalogue_are_the_ones_the_engine_runs() -> None:
    assert set(RULES) == set(catalogue.RULES)


def test_every_rule_names_the_commands_that_resolve_it_and_they_are_commands_of_the_catalogue() -> None:
    for rule_id, entry in catalogue.RULES.items():
        assert entry.resolved_by, rule_id
        assert set(entry.resolved_by) <= set(catalogue.COMMANDS), rule_id


@pytest.mark.parametrize("role, rule_id, subject, command", [
    # The seeds' owners with non-medical roles read their alert and may send what resolves it.
    (catalogue.Role.COORDINATEUR, "care-refused", "refusal:r1", "HoldCaseConference"),  # DAC
    (catalogue.Role.ASSISTANTE_SOCIALE, "newborn-without-follow-up", "newborn:pmi", "LinkPmi"),  # maternity
    (catalogue.Role.TRAVAILLEUR_SOCIAL, "screening-overdue", "screening:tb", "RecordClatScreening"),  # SAS
    (catalogue.Role.ASSISTANTE_SOCIALE, "interpreter-missing", "appointment:a1", "BookInterpreter"),  # CADA
])
def test_a_non_medical_owner_reads_its_alert_and_may_send_the_command_that_resolves_it(
    role, rule_id, subject, command,
) -> None:
    assert catalogue.alert_category(rule_id, subject) in catalogue.ROLE_NEEDS[role]
    assert catalogue.role_may_write(role, catalogue.command_category(command))
    assert role in catalogue.roles_able_to_act(rule_id, subject)


def test_an_agency_outside_the_pathway_never_may_act_and_a_rights_adviser_cannot_own_a_treatment_alert() -> None:
    assert not catalogue.agency_may_act(None, "exit-without-housing", "exit")
    assert not catalogue.agency_may_act(ParticipantRole.RIGHTS, "treatment-continuity", "treatment:t1")
    assert catalogue.agency_may_act(ParticipantRole.HEALTH_CARE, "treatment-continuity", "treatment:t1")
