"""Building directory commands in tests (synthetic services only)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from uuid import UUID, uuid4

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc)  # a Wednesday


def actor(agency: str, role: str = "coordination") -> dict[str, str]:
    return {"agency": agency, "professional": f"pro-{agency}", "role": role}


def details(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "Cabinet du Dr Martin", "kind": "medecin-generaliste", "organization": "Cabinet Martin",
        "code_insee": "76540", "commune": "Rouen", "languages": ["fr"], "horaires_accueil": "Mo-Fr 08:00-19:00",
    }
    base.update(overrides)
    return base


def register(service_id: UUID, owner: str, *, at: datetime = NOW, **fields: Any) -> dict[str, Any]:
    return {"command_id": uuid4(), "service_id": service_id, "actor": actor(owner), "occurred_at": at,
            "details": details(**fields.pop("details", {})), **fields}


def envelope(service_id: UUID, agency: str, *, at: datetime = NOW, **fields: Any) -> dict[str, Any]:
    return {"command_id": uuid4(), "service_id": service_id, "actor": actor(agency), "occurred_at": at, **fields}
