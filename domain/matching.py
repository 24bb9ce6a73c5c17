"""Matching: which services of the directory can take a person now, best first, and why.

Blocking criteria (a service failing one cannot take the person): accepting new patients, the
commune rule (`zone_eligibilite`), quota left in the period, language (spoken, or an
interpreter accepted), administrative situation. Ranking criteria (never blocking): open now
(`horaires_accueil`), freshness (`date_maj` within the update frequency), saturation, same
commune, quota margin. Every criterion gives a French reason, met or not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from domain.directory import Saturation, Service, ServiceKind
from domain.hours import is_open, next_opening
from domain.values import AdministrativeStatus

FRENCH = "fr"
#: Language names as professionals type them (a pathway's interpreter need, a GP search) ->
#: the directory's codes (ISO 639-1, or 639-3 where there is no 639-1 code).
LANGUAGE_CODES = {
    "français": "fr", "francais": "fr", "arabe": "ar", "anglais": "en", "russe": "ru", "pachto": "ps",
    "pashto": "ps", "dari": "prs", "tigrinya": "ti", "géorgien": "ka", "georgien": "ka", "peul": "ff",
    "albanais": "sq", "soninké": "snk", "soninke": "snk", "espagnol": "es", "portugais": "pt", "roumain": "ro",
    "turc": "tr", "ukrainien": "uk", "bengali": "bn", "ourdou": "ur", "somali": "so", "lingala": "ln",
}


def language_code(text: str) -> str:
    """`arabe` -> `ar`; a code already (`ar`) or an unknown name stays as it is, lower-cased."""
    word = text.strip().lower()
    return LANGUAGE_CODES.get(word, word)


class Criterion(StrEnum):
    ACCEPTING = "accepting"
    COMMUNE = "commune"
    QUOTA = "quota"
    LANGUAGE = "language"
    ADMINISTRATIVE = "administrative"
    OPENING_HOURS = "opening_hours"
    FRESHNESS = "freshness"
    SATURATION = "saturation"


BLOCKING = frozenset({Criterion.ACCEPTING, Criterion.COMMUNE, Criterion.QUOTA, Criterion.LANGUAGE,
                      Criterion.ADMINISTRATIVE})


@dataclass(frozen=True)
class MatchRequest:
    """Who is to be referred, as the pathway knows them."""

    at: datetime
    commune: str | None = None  # INSEE code of where the person lives
    languages: tuple[str, ...] = ()  # ISO 639-1; empty: French
    kind: ServiceKind | None = None
    administrative_status: AdministrativeStatus | None = None

    @property
    def needs_language_help(self) -> bool:
        return bool(self.languages) and FRENCH not in self.languages


@dataclass(frozen=True)
class Reason:
    criterion: Criterion
    met: bool
    text: str

    @property
    def blocking(self) -> bool:
        return not self.met and self.criterion in BLOCKING


@dataclass(frozen=True)
class Assessment:
    service: Service
    score: int
    reasons: tuple[Reason, ...]

    @property
    def service_id(self) -> UUID:
        return self.service.id

    @property
    def can_take(self) -> bool:
        return not any(r.blocking for r in self.reasons)


def in_zone(commune: str, zone: Iterable[str]) -> bool:
    """`commune` (INSEE) is one of the zone's communes, or in one of its départements."""
    departement = commune[:3] if commune.startswith("97") else commune[:2]
    return any(code == commune or code == departement for code in zone)


def assess(service: Service, request: MatchRequest) -> Assessment:
    d = service.details
    today = request.at.date()
    reasons: list[Reason] = []
    score = 100

    if service.accepting_new_patients:
        reasons.append(Reason(Criterion.ACCEPTING, True, "Prend de nouvelles personnes."))
    else:
        why = f" ({service.stop_reason})" if service.stop_reason else ""
        reasons.append(Reason(Criterion.ACCEPTING, False, f"Ne prend plus de nouvelles personnes{why}."))

    if not d.zone_eligibilite:
        reasons.append(Reason(Criterion.COMMUNE, True, "Pas de condition de commune de résidence."))
    elif request.commune is None:
        reasons.append(Reason(Criterion.COMMUNE, False, "Réservé à certaines communes ; commune de résidence "
                                                        "de la personne inconnue."))
    elif in_zone(request.commune, d.zone_eligibilite):
        reasons.append(Reason(Criterion.COMMUNE, True, "La personne réside dans la zone du service."))
    else:
        reasons.append(Reason(Criterion.COMMUNE, False, "Réservé aux habitants de "
                                                        f"{', '.join(d.zone_eligibilite)}."))
    if request.commune is not None and request.commune == d.code_insee:
        score += 20

    left = service.quota_left(today)
    if left is None:
        reasons.append(Reason(Criterion.QUOTA, True, "Pas de quota d'orientations."))
    elif left > 0:
        reasons.append(Reason(Criterion.QUOTA, True, f"{left} place(s) restante(s) sur la période."))
        score += min(left, 5)
    else:
        reasons.append(Reason(Criterion.QUOTA, False, "Quota d'orientations atteint pour la période."))

    if not request.needs_language_help:
        reasons.append(Reason(Criterion.LANGUAGE, True, "Échange en français."))
    elif spoken := [lang for lang in request.languages if lang in d.languages]:
        reasons.append(Reason(Criterion.LANGUAGE, True, f"Parle {', '.join(spoken)}."))
        score += 15
    elif d.accepts_interpreting:
        reasons.append(Reason(Criterion.LANGUAGE, True, "Accepte l'interprétariat professionnel ou par téléphone."))
        score += 5
    else:
        reasons.append(Reason(Criterion.LANGUAGE, False, f"Ne parle pas {', '.join(request.languages)} et "
                                                         "n'accepte pas l'interprétariat."))

    status = request.administrative_status
    if not d.statuts_administratifs or status is None or status in d.statuts_administratifs:
        reasons.append(Reason(Criterion.ADMINISTRATIVE, True, "Situation administrative acceptée."))
    else:
        reasons.append(Reason(Criterion.ADMINISTRATIVE, False, "Situation administrative non prise en charge."))

    if d.horaires_accueil is None:
        reasons.append(Reason(Criterion.OPENING_HOURS, True, "Horaires non renseignés."))
    elif is_open(d.horaires_accueil, request.at):
        reasons.append(Reason(Criterion.OPENING_HOURS, True, "Ouvert en ce moment."))
        score += 10
    else:
        opens = next_opening(d.horaires_accueil, request.at)
        when = f" ; ouvre le {opens:%d/%m à %H:%M}" if opens else ""
        reasons.append(Reason(Criterion.OPENING_HOURS, False, f"Fermé en ce moment{when}."))

    if service.is_stale(today):
        reasons.append(Reason(Criterion.FRESHNESS, False, f"Fiche non mise à jour depuis le {service.date_maj:%d/%m/%Y} "
                                                          "(à vérifier)."))
        score -= 30
    else:
        reasons.append(Reason(Criterion.FRESHNESS, True, f"Fiche à jour ({service.date_maj:%d/%m/%Y})."))

    if service.saturation is Saturation.HIGH:
        reasons.append(Reason(Criterion.SATURATION, False, "Saturation forte signalée."))
        score -= 15
    elif service.saturation is Saturation.LOW:
        reasons.append(Reason(Criterion.SATURATION, True, "Saturation faible."))
        score += 10
    else:
        reasons.append(Reason(Criterion.SATURATION, True, "Saturation moyenne ou non renseignée."))
    return Assessment(service=service, score=score, reasons=tuple(reasons))


def match(services: Iterable[Service], request: MatchRequest, *, limit: int = 10,
          exclude: Iterable[UUID] = ()) -> list[Assessment]:
    """The services that can take the person now, best first (score, then name, then id)."""
    excluded = set(exclude)
    found = [a for s in services
             if s.id not in excluded and (request.kind is None or s.details.kind is request.kind)
             for a in (assess(s, request),) if a.can_take]
    found.sort(key=lambda a: (-a.score, a.service.details.name, str(a.service.id)))
    return found[:limit]
