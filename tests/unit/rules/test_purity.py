"""domain/rules imports only the standard library, pydantic and the domain; it reads no clock."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import domain.rules

RULES_DIR = Path(domain.rules.__file__).parent
ALLOWED_THIRD_PARTY = {"pydantic", "eventsourcing"}
CLOCK_READS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter"}


def _modules() -> list[Path]:
    return sorted(RULES_DIR.glob("*.py"))


def test_rules_import_only_the_standard_library_pydantic_and_the_domain() -> None:
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert (
                    top in sys.stdlib_module_names or top == "domain" or top in ALLOWED_THIRD_PARTY
                ), f"{path.name} imports {name}"
                if top == "eventsourcing":
                    assert name == "eventsourcing.domain", f"{path.name} imports {name}"


def test_rules_never_read_the_clock() -> None:
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                assert node.func.attr not in CLOCK_READS, f"{path.name}:{node.lineno} calls .{node.func.attr}()"
