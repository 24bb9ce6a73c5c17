"""Relais domain: the four pathway aggregates, their events, invariants and values.

Imports only the standard library, pydantic and `eventsourcing.domain`: no I/O, no clock.
"""

from domain.detention import DetentionPathway
from domain.maternity import MaternityPathway
from domain.pass_gp import PassGpPathway
from domain.pathway import Pathway
from domain.sas import SasPathway

#: The aggregate class of each pathway kind.
PATHWAY_CLASSES: dict[str, type[Pathway]] = {
    "detention": DetentionPathway,
    "maternity": MaternityPathway,
    "sas": SasPathway,
    "pass_gp": PassGpPathway,
}

__all__ = ["PATHWAY_CLASSES", "DetentionPathway", "MaternityPathway", "PassGpPathway", "Pathway", "SasPathway"]
