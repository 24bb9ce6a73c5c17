"""Signed referral links over HTTP: `GET /r/<token>` shows the receiving professional what the
referral needs (who sends it, for which service, since when: no name, no health detail) and a
form; `POST /r/<token>` applies the answer (accepted, declined with a reason, seen). Refused
links answer 403 (tampered) or 410 (expired, already used), in French. Every use is audited.

The GraphQL mutation `referralLink` gives a member of the pathway the link of one of its
referrals (services/directory/links.py says what the link is and why it is safe).
"""

from __future__ import annotations

import asyncio
import html
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs
from uuid import UUID

import strawberry
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from strawberry.types import Info

from gateway.audit import EXECUTE, READ, AuditRecord
from gateway.context import Context
from gateway.hardening import PublicError
from gateway.permissions import CASE_ROLES
from infra.agencies import display_name
from services.directory.links import LinkAnswer, LinkRefused

STATUS = {"LINK_TAMPERED": 403, "LINK_EXPIRED": 410, "LINK_USED": 410, "REASON_REQUIRED": 400}
PAGE = """<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Orientation — Relais</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head><body><main>{body}</main></body></html>"""


def _page(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(PAGE.format(body=body), status_code=status,
                        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


def _audit(services: Any, agency: str, operation: str, pathway_id: UUID | None, outcome: str, action: str) -> None:
    services.audit.write([AuditRecord(professional=f"lien:{agency}", agency=agency, role="lien signé", action=action,
                                      operation=operation, purpose="TREAT", pathway_id=str(pathway_id) if pathway_id
                                      else None, categories=("social",) if outcome == "0" else (), outcome=outcome)])


def mount_referral_links(app: FastAPI) -> None:
    def links(request: Request) -> Any:
        found = getattr(request.app.state.gateway, "links", None)
        if found is None:
            raise LinkRefused("Liens d'orientation indisponibles sur cette instance.", "UNAVAILABLE")
        return found

    @app.get("/r/{token}", include_in_schema=False)
    async def show(token: str, request: Request) -> HTMLResponse:
        services = request.app.state.gateway
        try:
            link = links(request).verify(token, datetime.now(timezone.utc))
            pathway, referral = await asyncio.to_thread(links(request).referral, link)
        except LinkRefused as refused:
            return _page(f"<h1>Lien refusé</h1><p>{html.escape(refused.reason)}</p>", STATUS.get(refused.code, 403))
        await asyncio.to_thread(_audit, services, link.to_agency, "referralLink.read", link.pathway_id, "0", READ)
        body = (f"<h1>Orientation vers {html.escape(referral.service)}</h1>"
                f"<p>Adressée par {html.escape(display_name(referral.made_by))} le {referral.made_at:%d/%m/%Y} "
                f"(personne : {html.escape(pathway.person_ref)}). Lien valable jusqu'au "
                f"{link.expires_at:%d/%m/%Y}.</p>"
                f'<form method="post"><fieldset><legend>Votre réponse</legend>'
                f'<label><input type="radio" name="answer" value="accepted" required> J\'accepte la personne</label><br>'
                f'<label><input type="radio" name="answer" value="seen"> J\'ai vu la personne</label><br>'
                f'<label><input type="radio" name="answer" value="declined"> Je ne peux pas la prendre</label><br>'
                f'<label for="reason">Raison (obligatoire en cas de refus)</label><br>'
                f'<textarea id="reason" name="reason" maxlength="500"></textarea></fieldset>'
                f'<button type="submit">Envoyer</button></form>')
        return _page(body)

    @app.post("/r/{token}", include_in_schema=False)
    async def answer(token: str, request: Request) -> HTMLResponse:
        services = request.app.state.gateway
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
        now = datetime.now(timezone.utc)
        try:
            link = links(request).verify(token, now)
        except LinkRefused as refused:
            return _page(f"<h1>Lien refusé</h1><p>{html.escape(refused.reason)}</p>", STATUS.get(refused.code, 403))
        try:
            choice = LinkAnswer(form.get("answer", ""))
        except ValueError:
            return _page("<h1>Réponse invalide</h1><p>Choisissez : accepter, vu ou refuser.</p>", 400)
        try:
            result = await asyncio.to_thread(links(request).answer, token, choice, form.get("reason"), now)
        except LinkRefused as refused:
            await asyncio.to_thread(_audit, services, link.to_agency, "referralLink.answer", link.pathway_id, "4",
                                    EXECUTE)
            return _page(f"<h1>Réponse refusée</h1><p>{html.escape(refused.reason)}</p>", STATUS.get(refused.code, 403))
        await asyncio.to_thread(_audit, services, link.to_agency, "referralLink.answer", link.pathway_id,
                                "0" if result.accepted else "4", EXECUTE)
        if not result.accepted:
            reason = result.rejection.reason if result.rejection else "refusée"
            return _page(f"<h1>Réponse refusée</h1><p>{html.escape(reason)}</p>", 409)
        return _page("<h1>Merci</h1><p>Votre réponse a été transmise à la structure qui vous a adressé la "
                     "personne. Ce lien ne sert plus.</p>")


@strawberry.type(description="Lien signé d'une orientation, pour un professionnel sans compte Relais.")
class ReferralLinkIssued:
    path: str = strawberry.field(description="Chemin du lien sur cette passerelle (/r/…).")
    expires_at: datetime


async def referral_link(info: Info, pathway_id: UUID, referral_id: UUID) -> ReferralLinkIssued:
    """Only a member of the pathway gets the link of one of its referrals still awaiting an answer."""
    context: Context = info.context
    principal = context.require(*CASE_ROLES)
    links = getattr(context.services, "links", None)
    if links is None:
        raise PublicError("Liens d'orientation indisponibles sur cette instance.", "UNAVAILABLE")
    record = await context.load_pathway(pathway_id)
    member = record is not None and principal.agency in record.participants
    referral = next((r for r in (record.referrals if record else []) if str(r.get("referral_id")) == str(referral_id)),
                    None)
    if not member or referral is None:
        context.audit_read("mutation.referralLink", pathway_id, set(), outcome="4", action=EXECUTE)
        raise PublicError("Orientation inconnue.", "UNKNOWN_REFERRAL")
    token, expires = links.issue(pathway_id, referral_id, str(referral["to_agency"]), datetime.now(timezone.utc))
    context.audit_read("mutation.referralLink", pathway_id, set(), action=EXECUTE)
    return ReferralLinkIssued(path=f"/r/{token}", expires_at=expires)
