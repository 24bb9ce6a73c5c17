"""A GP without a Relais account answers a referral through its signed link, over HTTP against
the served gateway: the answer closes the loop (referral-unverified resolved); an expired,
edited or already used link is refused, and every use is audited."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from domain.rules.referrals import check_referral_unverified
from domain.rules.settings import TerritorySettings
from gateway.audit import AuditQuery
from gateway.serving import serve
from services.bootstrap import build_referral_links
from services.settings import Settings
from tests.tokens import identity_settings, token

GRAPHQL_ISSUE = ("mutation($p: UUID!, $r: UUID!) { referralLink(pathwayId: $p, referralId: $r) "
                 "{ path expiresAt } }")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from gateway.app import create_app
    from services.bootstrap import build_embedded

    settings = Settings(state_dir=tmp_path_factory.mktemp("relais"), mode="embedded", read_wait_timeout_s=5.0,
                        **identity_settings())
    runtime = build_embedded(settings, risk=False)
    with serve(create_app(runtime)) as base:
        yield base, runtime


def _gql(base: str, query: str, variables: dict[str, Any], agency: str = "pass") -> dict[str, Any]:
    response = httpx.post(f"{base}/graphql", json={"query": query, "variables": variables}, timeout=30,
                          headers={"Authorization": f"Bearer {token(agency, 'medecin')}"})
    body = response.json()
    assert not body.get("errors"), body
    return body["data"]


def _send(base: str, command: str, fields: dict[str, Any], occurred_at: datetime) -> dict[str, Any]:
    name = command[0].lower() + command[1:]
    query = (f"mutation($i: {command}Input!) {{ {name}(input: $i) {{ __typename "
             "... on CommandAccepted { version } ... on CommandRefused { code reason } } }")
    out = _gql(base, query, {"i": {"commandId": str(uuid.uuid4()), "occurredAt": occurred_at.isoformat(), **fields}})
    assert out[name]["__typename"] == "CommandAccepted", out
    return out[name]


def _referral_waiting_for_a_gp(served) -> tuple[str, str, str]:
    """A pathway with a referral made 15 days ago to a GP that has no account; its link path."""
    base, runtime = served
    pid, rid = str(uuid.uuid4()), str(uuid.uuid4())
    then = datetime.now(timezone.utc) - timedelta(days=20)
    _send(base, "OpenPassGpPathway", {"pathwayId": pid, "personRef": "P-link01", "territory": "76",
                                      "leadAgency": "pass"}, then)
    _send(base, "MakeReferral", {"pathwayId": pid, "referralId": rid, "toAgency": "mg-062",
                                 "service": "Médecin traitant"}, then + timedelta(days=5))
    # The link is issued from the read side: asked again until the projections applied the referral.
    deadline = datetime.now(timezone.utc) + timedelta(seconds=20)
    while True:
        try:
            return pid, rid, _gql(base, GRAPHQL_ISSUE, {"p": pid, "r": rid})["referralLink"]["path"]
        except AssertionError:
            assert datetime.now(timezone.utc) < deadline, "the referral never reached the read side"


def test_a_gp_without_an_account_answers_seen_through_the_link_and_the_loop_closes(served) -> None:
    base, runtime = served
    pid, rid, path = _referral_waiting_for_a_gp(served)
    pathway = runtime.pathways.app.get_pathway(uuid.UUID(pid))
    now = datetime.now(timezone.utc)
    assert [f.subject for f in check_referral_unverified(pathway, now, TerritorySettings())] == [f"referral:{rid}"]

    page = httpx.get(f"{base}{path}", timeout=30)
    assert page.status_code == 200 and "Orientation vers Médecin traitant" in page.text
    assert "P-link01" in page.text and 'name="answer"' in page.text
    answered = httpx.post(f"{base}{path}", data={"answer": "seen"}, timeout=30)
    assert answered.status_code == 200 and "Merci" in answered.text

    pathway = runtime.pathways.app.get_pathway(uuid.UUID(pid))
    assert pathway.referrals[uuid.UUID(rid)].status.value == "completed"
    assert check_referral_unverified(pathway, now, TerritorySettings()) == []  # resolved
    replayed = httpx.post(f"{base}{path}", data={"answer": "accepted"}, timeout=30)
    assert replayed.status_code == 410 and "déjà servi" in replayed.text
    audited = runtime.audit.search(AuditQuery(agency="mg-062", limit=500))
    uses = [(r.operation, r.outcome, r.agency) for r in audited if r.operation.startswith("referralLink")]
    assert ("referralLink.answer", "0", "mg-062") in uses and ("referralLink.answer", "4", "mg-062") in uses


def test_an_edited_link_is_refused_and_a_declined_answer_needs_its_reason(served) -> None:
    base, runtime = served
    pid, rid, path = _referral_waiting_for_a_gp(served)
    assert _gql(base, GRAPHQL_ISSUE, {"p": pid, "r": rid})["referralLink"]["path"] != path  # each link its own
    outsider = httpx.post(f"{base}/graphql", json={"query": GRAPHQL_ISSUE, "variables": {"p": pid, "r": rid}},
                          headers={"Authorization": f"Bearer {token('dac', 'coordinateur')}"}, timeout=30).json()
    assert outsider["errors"][0]["extensions"]["code"] == "UNKNOWN_REFERRAL"  # not a member: no link
    body, signature = path.removeprefix("/r/").split(".")
    forged = f"/r/{body[:-2]}{'A' if body[-2] != 'A' else 'B'}{body[-1]}.{signature}"
    assert httpx.get(f"{base}{forged}", timeout=30).status_code == 403
    assert httpx.post(f"{base}{forged}", data={"answer": "accepted"}, timeout=30).status_code == 403
    no_reason = httpx.post(f"{base}{path}", data={"answer": "declined"}, timeout=30)
    assert no_reason.status_code == 400 and "raison" in no_reason.text
    declined = httpx.post(f"{base}{path}", data={"answer": "declined", "reason": "ne prend plus de patients"},
                          timeout=30)
    assert declined.status_code == 200
    referral = runtime.pathways.app.get_pathway(uuid.UUID(pid)).referrals[uuid.UUID(rid)]
    assert referral.status.value == "rejected" and referral.status_reason == "ne prend plus de patients"


def test_an_expired_link_is_refused(served) -> None:
    base, runtime = served
    pid, rid, _ = _referral_waiting_for_a_gp(served)
    links = build_referral_links(runtime.settings, runtime.pathways)
    token_, _ = links.issue(uuid.UUID(pid), uuid.UUID(rid), "mg-062", datetime.now(timezone.utc) - timedelta(days=9))
    page = httpx.get(f"{base}/r/{token_}", timeout=30)
    assert page.status_code == 410 and re.search(r"Lien expiré le \d\d/\d\d/\d{4}", page.text)
    assert httpx.post(f"{base}/r/{token_}", data={"answer": "seen"}, timeout=30).status_code == 410
