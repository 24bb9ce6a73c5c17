"""The authorisation matrix: every role x category x consent state x membership case.

The expected answer is written out from the rule (secret professionnel partagé), not computed
by the code under test:
- an agency that does not take part in the pathway sees nothing of it;
- a role sees a category only if its job needs it (the table below);
- inside the care team the need is enough; outside it, consent for that agency and category
  is also needed; a withdrawn consent is no consent.
"""

from __future__ import annotations

import itertools

import pytest

from domain.disclosure import role_may_write
from domain.values import InformationCategory as C
from domain.values import ParticipantRole
from gateway.permissions import (
    Membership,
    PathwayAccess,
    Principal,
    Reason,
    Role,
    decide,
)

NEEDS = {
    "medecin": "IASM", "infirmier": "IASM", "sage_femme": "IASM", "puericultrice": "IASM",
    "travailleur_social": "IAS", "assistante_sociale": "IAS", "coordinateur": "IAS",
    "conseiller": "IA", "conseiller_penitentiaire": "IAS", "benevole": "IS", "analyste": "", "dpo": "",
    "dpo_regional": "", "admin_structure": "", "admin_territoire": "",
}
LETTER = {C.IDENTITY: "I", C.ADMINISTRATIVE: "A", C.SOCIAL: "S", C.MEDICAL: "M"}
MEMBERSHIPS = {
    "not_participating": None,
    "care_team_lead": ParticipantRole.LEAD,
    "care_team_health": ParticipantRole.HEALTH_CARE,
    "care_team_addiction": ParticipantRole.ADDICTION_CARE,
    "outside_housing": ParticipantRole.HOUSING,
    "outside_justice": ParticipantRole.JUSTICE,
    "outside_coordination": ParticipantRole.COORDINATION,
}
CONSENT_STATES = ("none", "granted", "withdrawn", "granted_other_category", "granted_other_agency")


def access_for(membership: str, consent: str, category: C) -> PathwayAccess:
    participants = {"lead-agency": ParticipantRole.LEAD}
    role = MEMBERSHIPS[membership]
    if role is ParticipantRole.LEAD:
        participants = {"me": ParticipantRole.LEAD}
    elif role is not None:
        participants["me"] = role
    other = next(c for c in C if c is not category)
    consents = {
        "none": {},
        "granted": {"me": [category]},
        "withdrawn": {},  # what the pathway holds after ConsentWithdrawn: nothing for that category
        "granted_other_category": {"me": [other]},
        "granted_other_agency": {"someone-else": list(C)},
    }[consent]
    return PathwayAccess(participants=participants, consents=consents)


def expected(role: str, category: C, consent: str, membership: str) -> bool:
    if MEMBERSHIPS[membership] is None:
        return False
    if LETTER[category] not in NEEDS[role]:
        return False
    in_care_team = membership.startswith("care_team")
    return in_care_team or consent == "granted"


CASES = list(itertools.product(NEEDS, list(C), CONSENT_STATES, MEMBERSHIPS))


@pytest.mark.parametrize(("role", "category", "consent", "membership"), CASES,
                         ids=[f"{r}-{c.value}-{s}-{m}" for r, c, s, m in CASES])
def test_a_role_sees_a_category_only_when_the_rule_says_so(role, category, consent, membership):
    disclosure = decide(Principal("me", "pro-1", Role(role)), access_for(membership, consent, category))
    assert (category in disclosure.visible) is expected(role, category, consent, membership)
    if MEMBERSHIPS[membership] is None:
        assert disclosure.membership is Membership.NOT_PARTICIPATING
        assert not disclosure.can_see_pathway
    elif category not in disclosure.visible:
        assert disclosure.hidden[category] in (Reason.ROLE, Reason.CONSENT)
        want = Reason.ROLE if LETTER[category] not in NEEDS[role] else Reason.CONSENT
        assert disclosure.hidden[category] is want


def test_every_role_has_a_row_in_the_matrix():
    assert set(NEEDS) == {r.value for r in Role}


@pytest.mark.parametrize("role", list(NEEDS))
def test_a_role_writes_only_the_categories_it_needs(role):
    for category in C:
        assert role_may_write(Role(role), category) is (LETTER[category] in NEEDS[role])


def test_the_reasons_are_explained_in_french():
    assert "consenti" in Reason.CONSENT.message
    assert "besoin d'en connaître" in Reason.ROLE.message
