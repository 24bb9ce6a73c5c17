"""The synthetic territory's directory of services, like the Médecins du Monde Rouen mapping:
296 GPs around Rouen (about 20 % accepting new patients, a third of those only for their
commune's residents, some capping referrals per week, few speaking a foreign language, many
accepting phone interpreting, some sheets out of date), and the territory's other services
(PASS, CSAPA, CMP, CLAT, PMI, SIAO, LHSS, CADA, the interpreting service), owned by the
agencies of the registry. Synthetic: invented practitioners; real commune INSEE codes.

Deterministic for a seed and a day; the command ids repeat, so loading twice changes nothing.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, time, timedelta, timezone
from typing import Any
from uuid import UUID, uuid5

from services.directory.exchange import IMPORT_ACTOR

GP_COUNT = 296
ACCEPTING_SHARE = 60 / 296  # MdM Rouen: 60 of 296 accepted new patients
#: The synthetic pathways' communes (services/territory/synthetic.py COMMUNES), INSEE codes.
COMMUNE_CODES = {
    "Rouen": "76540", "Sotteville-lès-Rouen": "76681", "Le Petit-Quevilly": "76498", "Le Grand-Quevilly": "76322",
    "Elbeuf": "76231", "Canteleu": "76157", "Saint-Étienne-du-Rouvray": "76575", "Mont-Saint-Aignan": "76451",
    "Déville-lès-Rouen": "76216", "Darnétal": "76212",
}
#: Most GPs are in Rouen itself.
COMMUNE_WEIGHTS = [30, 10, 8, 8, 8, 6, 10, 8, 6, 6]
FOREIGN_LANGUAGES = ["ar", "en", "ru", "ps", "prs", "ti", "ka", "sq", "ff"]
SURNAMES = ["Aubert", "Bihan", "Carpentier", "Dumont", "Escoffier", "Ferrand", "Gautier", "Hamel", "Izard", "Jolivet",
            "Keller", "Lemaire", "Marchand", "Noël", "Olivier", "Perrin", "Quesnel", "Renaud", "Simon", "Tessier",
            "Urbain", "Vasseur", "Wagner", "Yvon", "Zimmer", "Bertin", "Colin", "Delaunay", "Fleury", "Guérin"]
HOURS = ["Mo-Fr 08:30-12:00,14:00-19:00; PH off", "Mo-Fr 09:00-12:30,14:30-18:30; Sa 09:00-12:00; PH off",
         "Mo,Tu,Th,Fr 08:00-12:00,14:00-18:00; PH off", "Mo-Sa 08:00-13:00; PH off"]
NAMESPACE = UUID("5d2f0a8c-7c1e-4b9a-9f63-0e4b2d1a8c77")
#: (owner agency, name, kind, commune, extra sheet fields, quota)
OTHER_SERVICES: list[tuple[str, str, str, str, dict[str, Any]]] = [
    ("pass-chu-rouen", "PASS du CHU Rouen-Seine", "pass", "Rouen",
     {"zone_eligibilite": ["76"], "accepts_interpreting": True, "horaires_accueil": "Mo-Fr 08:30-16:30; PH off",
      "publics": ["personnes-exilees", "personnes-en-situation-durgence"]}),
    ("pass", "PASS du centre hospitalier du Belvédère", "pass", "Mont-Saint-Aignan",
     {"zone_eligibilite": ["76"], "accepts_interpreting": True, "horaires_accueil": "Mo-Fr 09:00-17:00; PH off"}),
    ("csapa-rouen", "CSAPA de Rouen", "csapa", "Rouen",
     {"zone_eligibilite": ["76"], "accepts_interpreting": True, "horaires_accueil": "Mo-Fr 09:00-18:00; PH off"}),
    ("cmp", "Centre médico-psychologique adultes", "cmp", "Sotteville-lès-Rouen",
     {"zone_eligibilite": ["76681", "76498", "76575"], "horaires_accueil": "Mo-Fr 09:00-17:30; PH off"}),
    ("clat-76", "CLAT de Seine-Maritime", "clat", "Rouen",
     {"zone_eligibilite": ["76"], "accepts_interpreting": True, "horaires_accueil": "Mo-Fr 08:30-16:00; PH off"}),
    ("pmi-76", "PMI Rouen rive gauche", "pmi", "Le Petit-Quevilly",
     {"zone_eligibilite": ["76498", "76322", "76681"], "accepts_interpreting": True, "publics": ["familles"]}),
    ("siao-76", "SIAO 76 — 115", "siao", "Rouen", {"zone_eligibilite": ["76"], "horaires_accueil": "24/7"}),
    ("cada-rouen", "CADA de Rouen", "cada", "Rouen",
     {"zone_eligibilite": ["76"], "statuts_administratifs": ["asylum_seeker"], "languages": ["fr", "en"]}),
    ("huda-elbeuf", "Lits halte soins santé d'Elbeuf", "lhss", "Elbeuf",
     {"zone_eligibilite": ["76"], "publics": ["personnes-en-situation-durgence"]}),
    ("ism-interpretariat", "ISM Interprétariat (téléphone)", "interpretariat", "Rouen",
     {"languages": ["fr", *FOREIGN_LANGUAGES], "horaires_accueil": "Mo-Fr 08:00-20:00"}),
]


def _command_id(service_id: UUID) -> UUID:
    return uuid5(NAMESPACE, f"register:{service_id}")


def _register(service_id: UUID, owner: str, at: datetime, details: dict[str, Any], **state: Any) -> dict[str, Any]:
    return {"command_id": _command_id(service_id), "service_id": service_id, "actor": IMPORT_ACTOR,
            "occurred_at": at, "owner": owner, "details": details, **state}


def generate(*, seed: int = 1, now: datetime | None = None) -> Iterator[dict[str, Any]]:
    """The RegisterService payloads of the synthetic directory."""
    rng = random.Random(f"directory-{seed}")
    now = now or datetime.now(timezone.utc)
    today = now.date()
    communes = list(COMMUNE_CODES)
    for n in range(1, GP_COUNT + 1):
        sid = uuid5(NAMESPACE, f"gp:{seed}:{n}")
        commune = rng.choices(communes, weights=COMMUNE_WEIGHTS)[0]
        accepting = rng.random() < ACCEPTING_SHARE
        foreign = [rng.choice(FOREIGN_LANGUAGES)] if rng.random() < 0.1 else []
        # One sheet in ten was last updated long ago (stale: ranked lower, flagged to its owner).
        age = rng.randint(95, 200) if rng.random() < 0.1 else rng.randint(1, 80)
        at = datetime.combine(today - timedelta(days=age), time(9, 0), tzinfo=timezone.utc)
        details = {
            "name": f"Dr {rng.choice(SURNAMES)} (MG-{n:03d})", "kind": "medecin-generaliste",
            "organization": f"Cabinet médical MG-{n:03d}", "code_insee": COMMUNE_CODES[commune], "commune": commune,
            "zone_eligibilite": [COMMUNE_CODES[commune]] if rng.random() < 0.35 else [],
            "languages": ["fr", *foreign], "accepts_interpreting": rng.random() < 0.6,
            "horaires_accueil": rng.choice(HOURS), "modes_mobilisation": ["telephoner"],
            "statuts_administratifs": [], "update_frequency_days": 90,
        }
        quota = {"places": rng.randint(2, 5), "period": "week"} if accepting and rng.random() < 0.3 else None
        yield _register(sid, f"mg-{n:03d}", at, details, accepting_new_patients=accepting, quota=quota,
                        saturation=rng.choice(["low", "moderate", "high"]) if accepting else "high")
    for owner, name, kind, commune, extra in OTHER_SERVICES:
        sid = uuid5(NAMESPACE, f"service:{seed}:{owner}:{kind}")
        at = datetime.combine(today - timedelta(days=rng.randint(1, 30)), time(9, 0), tzinfo=timezone.utc)
        details = {"name": name, "kind": kind, "organization": name, "code_insee": COMMUNE_CODES[commune],
                   "commune": commune, "update_frequency_days": 90, **extra}
        yield _register(sid, owner, at, details, accepting_new_patients=True)


def load_directory(directory: Any, *, seed: int = 1, now: datetime | None = None) -> int:
    """Register the synthetic directory in `directory` (services.directory.Directory); returns
    how many services it holds from it. Raises RuntimeError naming a refused service (a bug)."""
    count = 0
    for payload in generate(seed=seed, now=now):
        result = directory.command("RegisterService", payload)
        if not result.accepted:
            raise RuntimeError(f"annuaire synthétique : {payload['details']['name']} refusé : {result.rejection}")
        count += 1
    return count
