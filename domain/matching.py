"""Matching: which services of the directory can take a person now, best first, and why.

Blocking criteria (a service failing one cannot take the person): accepting new patients, the
commune rule (`zone_eligibilite`), quota left in the period, language (spoken, or an
interpreter accepted), administrative situation. Ranking criteria (never blocking): open now
(`horaires_accueil`), freshness (`date_maj` within the update frequency), saturation, same
commune, quota margin. Every criterion gives a French reason, met or not.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from domain.directory import QuotaPeriod, Saturation, Service, ServiceKind
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


def departement_of(commune: str) -> str:
    return commune[:3] if commune.startswith("97") else commune[:2]


def in_zone(commune: str, zone: Iterable[str], departement: str | None = None) -> bool:
    """`commune` (INSEE) is one of the zone's communes, or in one of its départements."""
    departement = departement or departement_of(commune)
    return any(code == commune or code == departement for code in zone)


class _Ranker:
    """The blocking criteria and the score for one request, with what they share computed
    once (the day, the quota periods, the commune's département, each opening-hours
    expression's answer): a match runs them over thousands of services."""

    def __init__(self, request: MatchRequest) -> None:
        self.request = request
        self.today = request.at.date()
        year, week, _ = self.today.isocalendar()
        self.periods = {QuotaPeriod.WEEK: f"{year}-W{week:02d}", QuotaPeriod.MONTH: f"{self.today:%Y-%m}"}
        commune = request.commune
        self.commune = commune
        self.departement = None if commune is None else departement_of(commune)
        self.languages = request.languages
        self.needs_help = request.needs_language_help
        self.status = request.administrative_status
        self._opening: dict[str, bool] = {}

    def _left(self, service: Service) -> int | None:
        quota = service.quota
        if quota is None:
            return None
        period = self.periods[quota.period]
        return max(0, quota.places - sum(1 for p in service.places.values() if p.period == period))

    def _open(self, expression: str) -> bool:
        if expression not in self._opening:
            self._opening[expression] = is_open(expression, self.request.at)
        return self._opening[expression]

    def ranked(self, service: Service) -> int | None:
        """The score, or None when a blocking criterion refuses the service (the quota left
        computed once for both: a match runs this over every candidate)."""
        left = self._left(service)
        return None if self._blocked(service, left) else self._score(service, left)

    def blocked(self, service: Service) -> bool:
        return self._blocked(service, self._left(service))

    def score(self, service: Service) -> int:
        return self._score(service, self._left(service))

    def _blocked(self, service: Service, left: int | None) -> bool:
        d = service.details
        if not service.accepting_new_patients:
            return True
        zone = d.zone_eligibilite
        if zone and (self.commune is None or not in_zone(self.commune, zone, self.departement)):
            return True
        if left is not None and left <= 0:
            return True
        if d.statuts_administratifs and self.status is not None and self.status not in d.statuts_administratifs:
            return True
        return self.needs_help and not d.accepts_interpreting and not any(x in d.languages for x in self.languages)

    def _score(self, service: Service, left: int | None) -> int:
        """100, plus same commune 20, quota margin up to 5, language spoken 15 (interpreting 5),
        open now 10, low saturation 10; minus stale sheet 30, high saturation 15."""
        d = service.details
        score = 100
        if self.commune is not None and self.commune == d.code_insee:
            score += 20
        if left:
            score += min(left, 5)
        if self.needs_help:
            if any(x in d.languages for x in self.languages):
                score += 15
            elif d.accepts_interpreting:
                score += 5
        if d.horaires_accueil is not None and self._open(d.horaires_accueil):
            score += 10
        if service.is_stale(self.today):
            score -= 30
        if service.saturation is Saturation.HIGH:
            score -= 15
        elif service.saturation is Saturation.LOW:
            score += 10
        return score


def can_take(service: Service, request: MatchRequest) -> bool:
    """The blocking criteria alone (what `assess(...).can_take` says, without the sentences)."""
    return not _Ranker(request).blocked(service)


def score_of(service: Service, request: MatchRequest) -> int:
    """The rank of a service for the request (higher first; see `_Ranker.score`)."""
    return _Ranker(request).score(service)


def assess(service: Service, request: MatchRequest) -> Assessment:
    """Every criterion's reason, met or not, and the score (`score_of`)."""
    d = service.details
    today = request.at.date()
    reasons: list[Reason] = []

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

    left = service.quota_left(today)
    if left is None:
        reasons.append(Reason(Criterion.QUOTA, True, "Pas de quota d'orientations."))
    elif left > 0:
        reasons.append(Reason(Criterion.QUOTA, True, f"{left} place(s) restante(s) sur la période."))
    else:
        reasons.append(Reason(Criterion.QUOTA, False, "Quota d'orientations atteint pour la période."))

    if not request.needs_language_help:
        reasons.append(Reason(Criterion.LANGUAGE, True, "Échange en français."))
    elif spoken := [lang for lang in request.languages if lang in d.languages]:
        reasons.append(Reason(Criterion.LANGUAGE, True, f"Parle {', '.join(spoken)}."))
    elif d.accepts_interpreting:
        reasons.append(Reason(Criterion.LANGUAGE, True, "Accepte l'interprétariat professionnel ou par téléphone."))
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
    else:
        opens = next_opening(d.horaires_accueil, request.at)
        when = f" ; ouvre le {opens:%d/%m à %H:%M}" if opens else ""
        reasons.append(Reason(Criterion.OPENING_HOURS, False, f"Fermé en ce moment{when}."))

    if service.is_stale(today):
        reasons.append(Reason(Criterion.FRESHNESS, False, f"Fiche non mise à jour depuis le {service.date_maj:%d/%m/%Y} "
                                                          "(à vérifier)."))
    else:
        reasons.append(Reason(Criterion.FRESHNESS, True, f"Fiche à jour ({service.date_maj:%d/%m/%Y})."))

    if service.saturation is Saturation.HIGH:
        reasons.append(Reason(Criterion.SATURATION, False, "Saturation forte signalée."))
    elif service.saturation is Saturation.LOW:
        reasons.append(Reason(Criterion.SATURATION, True, "Saturation faible."))
    else:
        reasons.append(Reason(Criterion.SATURATION, True, "Saturation moyenne ou non renseignée."))
    return Assessment(service=service, score=score_of(service, request), reasons=tuple(reasons))


def match(services: Iterable[Service], request: MatchRequest, *, limit: int = 10,
          exclude: Iterable[UUID] = ()) -> list[Assessment]:
    """The services that can take the person now, best first (score, then name, then the
    order of `services`). The blocking criteria and the score are computed for all; the
    reasons (sentences) only for the `limit` returned."""
    excluded = set(exclude)
    kind = request.kind
    ranker = _Ranker(request)
    # (−score, name, position): best first, then by name, then in the order given (stable).
    ranked = ((ranker.ranked(s), n, s) for n, s in enumerate(services)
              if (kind is None or s.details.kind is kind) and (not excluded or s.id not in excluded))
    scored = [(-score, s.details.name, n, s) for score, n, s in ranked if score is not None]
    return [assess(entry[3], request) for entry in heapq.nsmallest(limit, scored)]
