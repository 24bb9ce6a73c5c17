"""The composition root: the one place that reads settings and wires adapters.

Nothing connects at import time; `bootstrap()` does the wiring when a command asks for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.settings import Settings


@dataclass
class Relais:
    """The wired system, handed to the gateway and the workers."""

    settings: Settings


def bootstrap(settings: Settings | None = None) -> Relais:
    settings = settings or Settings()
    return Relais(settings=settings)
