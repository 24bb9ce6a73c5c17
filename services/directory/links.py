"""Referrals a professional without a Relais account can answer: a time-limited signed link.

The link (`/r/<token>`) names one referral of one pathway and the agency it was sent to, and
expires (8 days by default, as DORA's). It is signed with HMAC-SHA256 under a key derived from
the deployment's cipher key, so it cannot be forged or edited; it serves once: when the
referral is no longer waiting for an answer (`requested`), the link is spent. Its answers:
accepted (`accepted`), declined with a reason (`rejected`), or the person seen (outcome
honoured: the referral is completed, which resolves `referral-unverified`). The answer is
written by Relais on the receiving professional's behalf (they are no participant of the
pathway) and audited as any write, naming the receiving agency.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from domain.values import SYSTEM_AGENCY, ReferralStatus
from services.pathways.handler import CommandResult, PathwaysHandler

LINK_DAYS = 8
LINK_NAMESPACE = UUID("c1e5a3b7-4f2d-4e8a-b6c9-1d0e7f3a5b24")


class LinkAnswer(StrEnum):
    ACCEPTED = "accepted"
    DECLINED = "declined"
    SEEN = "seen"


class LinkRefused(Exception):
    """The link cannot be used; `reason` is said to the person who opened it (French)."""

    def __init__(self, reason: str, code: str) -> None:
        super().__init__(reason)
        self.reason, self.code = reason, code


@dataclass(frozen=True)
class ReferralLink:
    pathway_id: UUID
    referral_id: UUID
    to_agency: str
    expires_at: datetime
    nonce: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ReferralLinks:
    def __init__(self, key: bytes, pathways: PathwaysHandler) -> None:
        # A key of its own, derived: a link never reveals anything of the cipher key.
        self._key = hmac.new(key, b"relais referral links v1", hashlib.sha256).digest()
        self.pathways = pathways

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())

    def issue(self, pathway_id: UUID, referral_id: UUID, to_agency: str, now: datetime,
              days: int = LINK_DAYS) -> tuple[str, datetime]:
        expires = now + timedelta(days=days)
        body = _b64(json.dumps({"p": str(pathway_id), "r": str(referral_id), "a": to_agency,
                                "e": int(expires.timestamp()), "n": secrets.token_urlsafe(9)},
                               separators=(",", ":")).encode())
        return f"{body}.{self._sign(body)}", expires

    def verify(self, token: str, now: datetime) -> ReferralLink:
        """The link's referral, or LinkRefused: tampered (signature), expired, or spent."""
        body, _, signature = token.partition(".")
        if not body or not signature or not hmac.compare_digest(self._sign(body), signature):
            raise LinkRefused("Lien invalide : il a été modifié ou n'a pas été émis par Relais.", "LINK_TAMPERED")
        try:
            claims = json.loads(_unb64(body))
            link = ReferralLink(pathway_id=UUID(claims["p"]), referral_id=UUID(claims["r"]), to_agency=claims["a"],
                                expires_at=datetime.fromtimestamp(int(claims["e"]), timezone.utc), nonce=claims["n"])
        except (ValueError, KeyError, TypeError):
            raise LinkRefused("Lien invalide.", "LINK_TAMPERED") from None
        if now >= link.expires_at:
            raise LinkRefused(f"Lien expiré le {link.expires_at:%d/%m/%Y à %H:%M} (UTC) : demandez-en un nouveau à "
                              "la structure qui vous a adressé la personne.", "LINK_EXPIRED")
        return link

    def referral(self, link: ReferralLink) -> tuple[Any, Any]:
        """(pathway, referral) the link names, refused when spent (already answered)."""
        pathway = self.pathways.app.get_pathway(link.pathway_id)
        referral = pathway.referrals.get(link.referral_id)
        if referral is None or referral.to_agency != link.to_agency:
            raise LinkRefused("Lien invalide.", "LINK_TAMPERED")
        if referral.status is not ReferralStatus.REQUESTED:
            raise LinkRefused("Ce lien a déjà servi : l'orientation a reçu une réponse.", "LINK_USED")
        return pathway, referral

    def answer(self, token: str, answer: LinkAnswer, reason: str | None, now: datetime) -> CommandResult:
        link = self.verify(token, now)
        self.referral(link)
        actor = {"agency": SYSTEM_AGENCY, "professional": f"lien:{link.to_agency}", "role": "lien signé"}
        envelope = {"command_id": str(uuid5(LINK_NAMESPACE, f"{link.nonce}:{answer.value}")),
                    "pathway_id": str(link.pathway_id), "actor": actor, "occurred_at": now.isoformat(),
                    "referral_id": str(link.referral_id)}
        if answer is LinkAnswer.SEEN:
            return self.pathways.handle_payload("RecordReferralOutcome", {**envelope, "outcome": "honoured"})
        if answer is LinkAnswer.DECLINED and not (reason or "").strip():
            raise LinkRefused("Indiquez la raison du refus.", "REASON_REQUIRED")
        status = ReferralStatus.ACCEPTED if answer is LinkAnswer.ACCEPTED else ReferralStatus.REJECTED
        return self.pathways.handle_payload("UpdateReferralStatus", {
            **envelope, "status": status.value, "reason": (reason or "").strip()[:500] or None})
