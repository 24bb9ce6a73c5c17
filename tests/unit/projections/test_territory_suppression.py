"""Statistical secrecy of the territory indicators, over random small territories built through
the pathways service and the projections (SQLite): no hidden count can be worked out from the
figures returned with it — not from a breakdown's total, not from the months, not from the
funnel stages — and the orientation funnel counts GP orientations."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import uuid4

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections import queries as q
from projections.suppression import Sum, determined, suppress
from tests.unit.projections.conftest import World

THRESHOLD = q.SUPPRESSION_THRESHOLD


# --------------------------------------------------------------------------- what a reader can do
def relations(found: dict[str, Any]) -> list[tuple[str, Any, list[Any]]]:
    """Every "total = sum of its parts" a reader can write down from one answer of
    ``territory_indicators``, by the meaning of the fields (not by asking the code)."""
    def cells(items: list[dict[str, Any]]) -> list[Any]:
        return [i["count"] for i in items]

    p, a, o = found["pathways"], found["alerts"], found["orientations"]
    out = [
        ("pathways by kind", p["opened"], cells(p["by_kind"])),
        ("pathways by state", p["opened"], [p["open"], p["closed"]]),
        ("closed by outcome", p["closed"], cells(p["closed_by_outcome"])),
        ("open alerts by rule", a["open"], cells(a["open_by_rule"])),
        ("alerts raised by rule", a["raised"], cells(a["raised_by_rule"])),
        ("not honoured by reason", o["not_honoured"], cells(o["not_honoured_by_reason"])),
    ]
    monthly: dict[tuple[str, str], dict[str | None, Any]] = {}
    for row in found["monthly"]:
        monthly.setdefault((row["month"], row["indicator"]), {})[row["detail"]] = row["count"]
    by_metric: dict[str, list[Any]] = {}
    by_detail: dict[tuple[str, str], list[Any]] = {}
    for (month, metric), details in sorted(monthly.items()):
        by_metric.setdefault(metric, []).append(details[None])
        parts = [v for d, v in details.items() if d is not None]
        for d, v in details.items():
            if d is not None:
                by_detail.setdefault((metric, d), []).append(v)
        if parts:
            out.append((f"{metric} {month} by detail", details[None], parts))
    for metric, total in (("pathway_opened", p["opened"]), ("alert_raised", a["raised"]),
                          ("orientation_made", o["made"]), ("orientation_reached", o["reached"]),
                          ("orientation_honoured", o["honoured"]), ("orientation_not_honoured", o["not_honoured"])):
        out.append((f"{metric} over the months", total, by_metric.get(metric, [])))
    for (metric, items) in (("alert_raised", a["raised_by_rule"]),
                            ("orientation_not_honoured", o["not_honoured_by_reason"])):
        for item in items:
            out.append((f"{metric} {item['key']} over the months", item["count"], by_detail.get((metric, item["key"]), [])))
    return out


def recoverable(found: dict[str, Any]) -> list[str]:
    """Hidden counts a reader recovers: a relation whose total and every part but one are
    shown (subtraction), or whose hidden parts are pinned because a hidden count is >= 1."""
    out = []
    for name, total, parts in relations(found):
        hidden = [x for x in parts if x is None]
        if total is None or not hidden:
            continue
        rest = total - sum(x for x in parts if x is not None)
        if len(hidden) == 1:
            out.append(f"{name}: hidden = {rest}")
        elif rest == len(hidden):
            out.append(f"{name}: {len(hidden)} hidden counts adding up to {rest}, all 1")
    o = found["orientations"]  # reached >= honoured + not honoured, a hidden not honoured is >= 1
    if None not in (o["reached"], o["honoured"]) and o["not_honoured"] is None and o["reached"] - o["honoured"] == 1:
        out.append("funnel: reached - honoured = 1 pins the hidden not honoured at 1")
    return out


def hidden_alone(found: dict[str, Any]) -> list[str]:
    """Breakdowns with exactly one hidden part under a shown total."""
    return [name for name, total, parts in relations(found)
            if total is not None and sum(1 for x in parts if x is None) == 1]


# --------------------------------------------------------------------------- territories
RULES = ("contact-lost", "referral-unverified", "stalled")
REASONS = ("no_interpreter", "phone_changed", "address_not_found")
pathway_specs = st.fixed_dictionaries({
    "kind": st.sampled_from(["pass_gp", "pass_gp", "sas", "detention"]),
    "day": st.sampled_from([0, 0, 35]),  # two months
    "orientation": st.sampled_from([None, "unreached", "reached", "went", *REASONS]),
    "referral": st.sampled_from([None, "made", "honoured", "not_honoured"]),
    "alerts": st.lists(st.tuples(st.sampled_from(RULES), st.booleans()), max_size=2, unique_by=lambda a: a[0]),
    "closed": st.sampled_from([None, None, "transferred", "other"]),
})


def build(world: World, specs: list[dict[str, Any]]) -> None:
    for n, spec in enumerate(specs):
        pid, day = str(uuid4()), spec["day"]
        if spec["kind"] == "sas":
            world.send("OpenSasPathway", pid, "sas", day, person_ref=f"P-{n}", territory="76", lead_agency="sas",
                       arrived_on="2026-03-02")
        elif spec["kind"] == "detention":
            world.send("OpenDetentionPathway", pid, "usmp", day, person_ref=f"P-{n}", territory="76",
                       lead_agency="usmp", prison="CP Rouen")
        else:
            world.send("OpenPassGpPathway", pid, "pass", day, person_ref=f"P-{n}", territory="76", lead_agency="pass")
        lead = {"sas": "sas", "detention": "usmp", "pass_gp": "pass"}[spec["kind"]]
        if spec["kind"] == "pass_gp" and spec["orientation"] is not None:
            world.send("OpenCoverage", pid, lead, day + 1, scheme="ame", opened_on="2026-03-03", expires_on=None)
            orientation = str(uuid4())
            world.send("OrientToGp", pid, lead, day + 2, orientation_id=orientation, gp_ref="MG-1",
                       gp_commune="Rouen", accepts_phone_interpreting=False)
            if spec["orientation"] != "unreached":
                world.send("RecordFollowUpCall", pid, lead, day + 5, orientation_id=orientation, reached=True)
            if spec["orientation"] not in ("unreached", "reached"):
                went = spec["orientation"] == "went"
                world.send("RecordGpVisitOutcome", pid, lead, day + 9, orientation_id=orientation,
                           outcome="went" if went else "did_not_go", reason=None if went else spec["orientation"],
                           detail=None)
        if spec["referral"] is not None:
            referral = str(uuid4())
            world.send("MakeReferral", pid, lead, day + 1, referral_id=referral, to_agency="csapa",
                       service="consultation")
            if spec["referral"] != "made":
                honoured = spec["referral"] == "honoured"
                world.send("RecordReferralOutcome", pid, lead, day + 6, referral_id=referral,
                           outcome="honoured" if honoured else "not_honoured",
                           reason=None if honoured else "Mme X n'a pas pu venir")  # free text: never shown
        for rule, resolved in spec["alerts"]:
            alert = str(uuid4())
            world.send("RaiseAlert", pid, "relais", day + 3, alert_id=alert, rule_id=rule, subject="pathway",
                       triggering_event_ids=[], owner_agency=lead, suggested_action="Rappeler.", severity="medium")
            if resolved:
                world.send("ResolveAlert", pid, lead, day + 4, alert_id=alert, reason="fait")
        if spec["closed"] is not None:
            world.send("ClosePathway", pid, lead, day + 10, outcome=spec["closed"], reason="fin")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(specs=st.lists(pathway_specs, min_size=1, max_size=14))
def test_no_suppressed_count_of_a_random_small_territory_can_be_worked_out(tmp_path_factory, specs) -> None:
    world = World(Path(tmp_path_factory.mktemp("w")))
    try:
        build(world, specs)
        found = q.territory_indicators(world.conn, "76")
    finally:
        world.close()
    assert hidden_alone(found) == []  # each breakdown: 0 or >= 2 hidden parts, or its total hidden
    assert recoverable(found) == []
    shown = [c["count"] for r, total, parts in relations(found) for c in [{"count": total}, *({"count": x} for x in parts)]]
    assert all(x is None or x == 0 or x >= THRESHOLD for x in shown)  # no small count is shown
    assert "Mme X" not in repr(found)
    assert found["pathways"]["opened"] in (len(specs), None)


def test_the_funnel_counts_gp_orientations_with_the_other_referrals(world: World) -> None:
    for n in range(5):
        build(world, [{"kind": "pass_gp", "day": 0, "orientation": "went", "referral": None, "alerts": [],
                       "closed": None}])
    o = q.territory_indicators(world.conn, "76")["orientations"]
    assert (o["made"], o["reached"], o["honoured"], o["not_honoured"]) == (5, 5, 5, 0)


def test_the_funnel_of_the_mdm_rouen_report_is_shown_as_is(world: World) -> None:
    """48 orientations, 27 people reached at the follow-up call, 17 went (2022): no small cell."""
    specs = ([{"orientation": "went"}] * 17 + [{"orientation": "no_interpreter"}] * 5
             + [{"orientation": "address_not_found"}] * 5 + [{"orientation": "unreached"}] * 21)
    build(world, [{"kind": "pass_gp", "day": 0, "referral": None, "alerts": [], "closed": None, **s} for s in specs])
    o = q.territory_indicators(world.conn, "76")["orientations"]
    assert (o["made"], o["reached"], o["honoured"], o["not_honoured"]) == (48, 27, 17, 10)
    assert o["not_honoured_by_reason"] == [{"key": "address_not_found", "count": 5},
                                           {"key": "no_interpreter", "count": 5}]


def test_closed_pathways_are_counted_by_outcome_until_reopened(world: World) -> None:
    spec = {"kind": "detention", "day": 0, "orientation": None, "referral": None, "alerts": []}
    build(world, [{**spec, "closed": "transferred"}] * 6 + [{**spec, "closed": None}] * 5)
    reopened = world.rows("SELECT pathway_id FROM territory_closed LIMIT 1")[0][0]
    world.send("ReopenPathway", reopened, "usmp", 20, reason="retour")
    p = q.territory_indicators(world.conn, "76")["pathways"]
    assert (p["opened"], p["open"], p["closed"]) == (11, 6, 5)
    assert p["closed_by_outcome"] == [{"key": "transferred", "count": 5}]


# --------------------------------------------------------------------------- the function itself
def test_two_hidden_cells_adding_up_to_two_are_protected_by_one_more() -> None:
    values = {"total": 12, "a": 1, "b": 1, "c": 10}
    sums = [Sum("total", ("a", "b", "c"))]
    hidden = suppress(values, sums, published=values, threshold=5)
    assert hidden == {"a", "b", "c"}
    assert determined(values, sums, values, hidden, 5) == set()


@settings(max_examples=200, deadline=None)
@given(cells=st.lists(st.integers(0, 12), min_size=1, max_size=5), months=st.integers(1, 3))
def test_a_table_with_its_margins_keeps_every_hidden_cell_undetermined(cells: list[int], months: int) -> None:
    """cells x months with row, column and grand totals, all published."""
    values: dict[Any, int] = {}
    for i, v in enumerate(cells):
        for m in range(months):
            values[(i, m)] = (v + 3 * m * i) % 13
    sums = []
    for i in range(len(cells)):
        values[(i, "all")] = sum(values[(i, m)] for m in range(months))
        sums.append(Sum((i, "all"), tuple((i, m) for m in range(months))))
    for m in range(months):
        values[("all", m)] = sum(values[(i, m)] for i in range(len(cells)))
        sums.append(Sum(("all", m), tuple((i, m) for i in range(len(cells)))))
    values[("all", "all")] = sum(values[(i, "all")] for i in range(len(cells)))
    sums.append(Sum(("all", "all"), tuple((i, "all") for i in range(len(cells)))))
    sums.append(Sum(("all", "all"), tuple(("all", m) for m in range(months))))
    hidden = suppress(values, sums, published=values, threshold=5)
    assert all(k in hidden for k, v in values.items() if 0 < v < 5)
    assert not any(values[k] == 0 for k in hidden)
    assert determined(values, sums, values, hidden, 5) == set()
    for s in sums:
        shown_total = s.total not in hidden
        assert not (shown_total and sum(1 for p in s.parts if p in hidden) == 1)
