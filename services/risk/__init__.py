"""The rupture-risk engine: pathway events + a clock -> alert commands (see engine.py)."""

from services.risk.deadlines import DeadlineIndex, Due, PostgresDeadlineIndex, SQLiteDeadlineIndex
from services.risk.engine import (
    RISK_ACTOR,
    EscalationPolicy,
    Outcome,
    RiskEngine,
    SweepResult,
    alert_id_for,
    command_id_for,
    triggering_event_ids,
)

__all__ = [
    "RISK_ACTOR", "DeadlineIndex", "Due", "EscalationPolicy", "Outcome", "PostgresDeadlineIndex", "RiskEngine",
    "SQLiteDeadlineIndex", "SweepResult", "alert_id_for", "command_id_for", "triggering_event_ids",
]
