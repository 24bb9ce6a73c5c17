"""The back-test: a candidate rule set replayed beside the one in force, on a stored history and
on a synthetic territory; what a territory administrator reads in its report."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest

from domain.rules import CATALOGUE
from domain.rules.settings import settings_for
from services.risk.backtest import (
    ALL_RULES,
    CANDIDATE,
    IN_FORCE,
    backtest,
    csv_text,
    markdown,
    run,
    stored_histories,
    svg,
    synthetic_histories,
)
from services.territory.noise import DEFAULT_NOW
from tests.unit.risk.world import CASO, PASS, World, at

DEFAULT = settings_for("76")


def figures(report, rule_set: str, rule_id: str):
    return next(f for f in report.figures[rule_set] if f.rule_id == rule_id)


def test_a_lost_pathway_is_a_break_the_earlier_rule_warns_sooner_and_a_dismissal_is_counted(tmp_path) -> None:
    world = World(tmp_path)
    try:
        pid = world.open("PassGp", CASO, PASS)
        for day in (1, 2, 3):
            world.send("RecordContactAttempt", pid, CASO, when=at(day), reached=False)
        [alert] = world.alerts(pid, "contact-lost")
        owner = CASO if alert.owner_agency == CASO.agency else PASS
        world.send("DismissAlert", pid, owner, when=at(4), alert_id=str(alert.alert_id), reason="false_alarm")
        world.send("ClosePathway", pid, CASO, when=at(10), outcome="lost_to_follow_up",
                   reason="Personne injoignable.")
        earlier = DEFAULT.model_copy(update={"contact_failed_attempts": 2})
        report = run(stored_histories(world.app, "76"), {IN_FORCE: DEFAULT, CANDIDATE: earlier},
                     territory="76", end=at(20))
    finally:
        world.close()
    assert report.pathways == 1 and dict(report.breaks) == {"lost_to_follow_up": 1}
    now, candidate = figures(report, IN_FORCE, "contact-lost"), figures(report, CANDIDATE, "contact-lost")
    assert (now.alerts, candidate.alerts) == (1, 1)
    assert now.breaks_alerted_share == candidate.breaks_alerted_share == 1.0
    assert now.median_lead_days == pytest.approx(7.0, abs=0.01)  # third failure (day 3) -> lost (day 10)
    assert candidate.median_lead_days == pytest.approx(8.0, abs=0.01)  # second failure (day 2)
    assert now.dismissed_share == candidate.dismissed_share == 1.0


def test_the_same_rule_set_twice_gives_the_same_figures_and_a_disabled_rule_raises_nothing() -> None:
    histories = list(synthetic_histories(60, now=DEFAULT_NOW))
    same = run(histories, {IN_FORCE: DEFAULT, CANDIDATE: DEFAULT}, territory="76", end=DEFAULT_NOW)
    assert same.figures[IN_FORCE] == same.figures[CANDIDATE]
    assert figures(same, IN_FORCE, ALL_RULES).alerts > 0 and sum(same.breaks.values()) > 0
    without = DEFAULT.model_copy(update={"enabled_rules": frozenset({"contact-lost"})})
    fewer = run(histories, {IN_FORCE: DEFAULT, CANDIDATE: without}, territory="76", end=DEFAULT_NOW)
    assert figures(fewer, CANDIDATE, ALL_RULES).alerts == figures(fewer, CANDIDATE, "contact-lost").alerts
    assert figures(fewer, CANDIDATE, "consent-missing").alerts == 0
    assert figures(fewer, CANDIDATE, "contact-lost").alerts == figures(fewer, IN_FORCE, "contact-lost").alerts


def test_the_report_the_csv_and_the_plot_show_both_rule_sets() -> None:
    stricter = DEFAULT.model_copy(update={"referral_unverified_days": 7, "stalled_days": 14})
    report = backtest("76", stricter, DEFAULT, synthetic=40, end=DEFAULT_NOW,
                      start=DEFAULT_NOW - timedelta(days=90))
    assert figures(report, CANDIDATE, "referral-unverified").alerts >= figures(report, IN_FORCE, "referral-unverified").alerts
    text = markdown(report)
    assert "territoire synthétique de 40 parcours" in text and "Durée du back-test" in text
    assert "## Jeu de règles « en vigueur »" in text and "## Écart « candidat » − « en vigueur »" in text
    rows = list(csv.DictReader(io.StringIO(csv_text(report))))
    assert len(rows) == 2 * (len(CATALOGUE) + 1)
    assert {r["rule_set"] for r in rows} == {IN_FORCE, CANDIDATE}
    plot = ET.fromstring(svg(report))
    weeks = {w for series in report.weekly.values() for w in series}
    lines = plot.findall("{http://www.w3.org/2000/svg}polyline")
    assert len(weeks) >= 12 and [len(p.get("points").split()) for p in lines] == [len(weeks)] * 2
