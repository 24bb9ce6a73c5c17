"""Loads a synthetic territory through the pathways service, with progress on stderr."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import TextIO

from infra.progress import Progress
from services.pathways import PathwaysHandler
from services.pathways.handler import CommandRejected, parse_command
from services.territory.synthetic import generate


class Refused(RuntimeError):
    """A synthetic command was refused: the generator and the domain disagree (a bug), or the
    store already holds this seed's territory generated on another day (other dates, same ids)."""


def load(handler: PathwaysHandler, count: int, *, seed: int = 1, territory: str = "76",
         now: datetime | None = None, progress: TextIO | None | bool = True) -> int:
    """Send every command of `count` synthetic pathways; return how many were accepted.
    Each pathway's commands go in one batch (one write, `PathwaysHandler.handle_batch`).
    Safe to run twice with the same seed and day: the command ids repeat, so nothing doubles.
    `progress`: a stream, True for the current stderr, None/False for silence."""
    if progress is True:
        progress = sys.stderr
    elif progress is False:
        progress = None
    bar = Progress(f"territoire {territory}", progress, unit="parcours", rate_unit="parcours/s")
    bar.start(count)
    sent = 0
    for done, story in enumerate(generate(count, seed=seed, territory=territory, now=now), start=1):
        try:
            commands = [parse_command(name, payload) for name, payload in story.commands]
        except CommandRejected as rejected:
            raise Refused(f"{story.kind} {story.pathway_id}: commande invalide : {rejected}") from None
        for (name, _payload), result in zip(story.commands, handler.handle_batch(commands, recorded_at=story.recorded),
                                          strict=True):
            if not result.accepted:
                raise Refused(f"{story.kind} {story.pathway_id}: {name} refusé : {result.rejection}")
            sent += 1
        bar.detail = f"{sent} commandes"
        bar.update(done)
    bar.finish()
    return sent
