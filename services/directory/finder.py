"""The directory as the rules' suggested actions name it: the adapter of the port
`domain.rules.types.ServiceFinder`, given to the risk engine by the composition root."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from domain.directory import ServiceKind
from domain.matching import MatchRequest
from services.directory.service import Directory, display_name

#: How many accepting GPs a suggested action names (the text stays one line).
GPS_NAMED = 2


class DirectoryFinder:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    def interpreting_services(self, language: str | None, at: datetime) -> list[str]:
        request = MatchRequest(at=at, kind=ServiceKind.INTERPRETARIAT, languages=(language,) if language else ())
        return [display_name(a.service) for a in self.directory.match(request, limit=1)]

    def accepting_gps(self, commune: str | None, languages: Sequence[str], at: datetime) -> list[str]:
        request = MatchRequest(at=at, kind=ServiceKind.MG, commune=commune, languages=tuple(languages))
        return [display_name(a.service) for a in self.directory.match(request, limit=GPS_NAMED + 1)]


__all__ = ["DirectoryFinder"]
