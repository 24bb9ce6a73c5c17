"""The domain layer stays pure: standard library, pydantic, eventsourcing.domain and
opening_hours (a pure parser of the OpenStreetMap opening-hours format the directory's
`horaires_accueil` are written in: no I/O, no clock) only, and no clock read (time is always
passed in)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

DOMAIN = Path(__file__).resolve().parents[3] / "domain"
ALLOWED_THIRD_PARTY = {"pydantic", "eventsourcing.domain", "opening_hours"}
CLOCK_READS = {("datetime", "now"), ("datetime", "utcnow"), ("date", "today"), ("time", "time"), ("time", "monotonic")}


def _modules() -> list[Path]:
    return sorted(DOMAIN.glob("*.py"))


def test_the_domain_imports_only_the_standard_library_pydantic_and_eventsourcing_domain() -> None:
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                root = name.split(".")[0]
                assert (
                    root in sys.stdlib_module_names or root == "domain" or name in ALLOWED_THIRD_PARTY
                    or root == "pydantic" or root == "__future__"
                ), f"{path.name} imports {name}"


def test_the_domain_never_reads_the_clock() -> None:
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                assert (node.value.id, node.attr) not in CLOCK_READS, f"{path.name}:{node.lineno} reads the clock"
