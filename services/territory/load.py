"""Loads a synthetic territory through the pathways service, with progress on stderr."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import TextIO

from infra.progress import Progress
from services.pathways import PathwaysHandler
from services.territory.synthetic import generate


class Refused(RuntimeError):
    """A synthetic command was refused: the generator and the domain disagree (a bug)."""


def load(handler: PathwaysHandler, count: int, *, seed: int = 1, territory: str = "76",
         now: datetime | None = None, progress: TextIO | None | bool = True) -> int:
    """Send every command of `count` synthetic pathways; return how many were accepted.
    Safe to run twice with the same seed: the command ids repeat, so nothing doubles.
    `progress`: a stream, True for the current stderr, None/False for silence."""
    if progress is True:
        progress = sys.stderr
    elif progress is False:
        progress = None
    bar = Progress(f"territoire {territory}", progress, unit="parcours", rate_unit="parcours/s")
    bar.start(count)
    sent = 0
    for done, story in enumerate(generate(count, seed=seed, territory=territory, now=now), start=1):
        for name, payload in story.commands:
            result = handler.handle_payload(name, payload)
            if not result.accepted:
                raise Refused(f"{story.kind} {story.pathway_id}: {name} refusé : {result.rejection}")
            sent += 1
        bar.detail = f"{sent} commandes"
        bar.update(done)
    bar.finish()
    return sent
