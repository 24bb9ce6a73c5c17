"""Statistical secrecy for de-identified counts: primary and complementary suppression over
linked tables, so that no hidden count can be worked out from the figures returned with it.

The figures of one answer are *cells* (a key -> an exact count) tied by *sums* (a total equals
the sum of its parts: pathways by kind add up to the pathways opened, months add up to the
whole period, the funnel stages nest). Some cells are published, some are not (e.g. "not
reached" = made - reached is never returned, but it could be computed from what is).

* Primary suppression: a published count above 0 and below the threshold is hidden.
* Complementary suppression: while some hidden count (or a small unpublished one) is still
  determined by the published figures, one more published figure is hidden — the smallest
  non-zero figure of a sum that determines it. "Determined" is checked two ways, over every
  sum at once: linearly (the cell is a combination of the sum equations, i.e. recoverable by
  adding and subtracting published figures) and by bounds (a hidden published cell is at
  least 1, since a 0 is shown as 0; two hidden cells summing to 2 are then both 1).

Zeros are never hidden (a 0 is not a small count of people), and the threshold applies to
cells, not to who is asking.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

Key = Hashable


@dataclass(frozen=True)
class Sum:
    """``total`` = the sum of ``parts`` (keys of cells)."""

    total: Key
    parts: tuple[Key, ...]

    @property
    def terms(self) -> tuple[Key, ...]:
        return (self.total, *self.parts)


def suppress(values: Mapping[Key, int], sums: Sequence[Sum], published: Collection[Key],
             threshold: int) -> set[Key]:
    """The published keys to hide (primary and complementary suppression).

    ``values`` holds every cell, published or not (a key absent from it counts 0);
    ``published``: the keys the caller will return. Unpublished cells are unknown to the reader
    by construction; the ones above 0 and below ``threshold`` must stay undetermined too."""
    published = set(published)
    hidden = {k for k in published if 0 < values.get(k, 0) < threshold}
    while True:
        exposed = determined(values, sums, published, hidden, threshold)
        if not exposed:
            return hidden
        extra = _complement(values, sums, published, hidden, exposed)
        if not extra:  # nothing left to hide around it: hide every figure of its sums
            extra = {t for s in sums if set(s.terms) & exposed for t in s.terms
                     if t in published and values.get(t, 0) > 0} - hidden
        if not extra:  # determined through other sums only: last resort, hide every non-zero figure
            extra = {k for k in published if values.get(k, 0) > 0} - hidden
        if not extra:
            return hidden  # pragma: no cover - every non-zero figure is hidden already
        hidden |= extra


def determined(values: Mapping[Key, int], sums: Sequence[Sum], published: Collection[Key],
               hidden: Collection[Key], threshold: int) -> set[Key]:
    """The cells that must stay unknown but can be worked out from the shown figures: hidden
    published cells, and unpublished cells above 0 and below ``threshold``."""
    published, hidden = set(published), set(hidden)
    unknown = {k for s in sums for k in s.terms if k not in published or k in hidden}
    protected = {k for k in unknown if k in hidden or 0 < values.get(k, 0) < threshold}
    if not protected:
        return set()
    found = _linear(values, sums, unknown) | _bounded(values, sums, published, unknown)
    return found & protected


def _complement(values: Mapping[Key, int], sums: Sequence[Sum], published: set[Key], hidden: set[Key],
                exposed: set[Key]) -> set[Key]:
    """For each exposed cell, the smallest shown non-zero figure of a sum it is in (parts
    before totals, the sum with the fewest unknowns first)."""
    extra: set[Key] = set()
    for key in sorted(exposed, key=repr):
        around = [s for s in sums if key in s.terms]
        if any(t in extra for s in around for t in s.terms):
            continue  # already given a complement this round: judged again on the next one
        candidates = []
        for s in around:
            unknowns = sum(1 for t in s.terms if t not in published or t in hidden or t in extra)
            for rank, term in enumerate(s.terms):
                if term in published and term not in hidden and term not in extra and values.get(term, 0) > 0:
                    candidates.append((unknowns, values[term], rank == 0, repr(term), term))
        if candidates:
            extra.add(min(candidates)[-1])
    return extra


def _linear(values: Mapping[Key, int], sums: Sequence[Sum], unknown: set[Key]) -> set[Key]:
    """Unknown cells that are a linear consequence of the sums (exact: fractions)."""
    columns = sorted(unknown, key=repr)
    index = {k: i for i, k in enumerate(columns)}
    rows: list[dict[int, Fraction]] = []
    for s in sums:
        row: dict[int, Fraction] = {}
        for term, sign in ((s.total, 1), *((p, -1) for p in s.parts)):
            if term in index:
                row[index[term]] = row.get(index[term], Fraction(0)) + sign
        row = {c: v for c, v in row.items() if v}
        if row:
            rows.append(row)
    reduced = _rref(rows)
    return {columns[next(iter(r))] for r in reduced if len(r) == 1}


def _rref(rows: list[dict[int, Fraction]]) -> list[dict[int, Fraction]]:
    """Reduced row echelon form of sparse rows (column -> coefficient)."""
    pivots: list[tuple[int, dict[int, Fraction]]] = []
    for row in rows:
        row = dict(row)
        for col, prow in pivots:
            if col in row:
                factor = row[col]
                for c, v in prow.items():
                    row[c] = row.get(c, Fraction(0)) - factor * v
                row = {c: v for c, v in row.items() if v}
        if not row:
            continue
        col = min(row)
        lead = row[col]
        row = {c: v / lead for c, v in row.items()}
        for i, (pc, prow) in enumerate(pivots):  # keep earlier rows reduced
            if col in prow:
                factor = prow[col]
                merged = dict(prow)
                for c, v in row.items():
                    merged[c] = merged.get(c, Fraction(0)) - factor * v
                pivots[i] = (pc, {c: v for c, v in merged.items() if v})
        pivots.append((col, row))
    return [r for _, r in pivots]


def _bounded(values: Mapping[Key, int], sums: Sequence[Sum], published: set[Key], unknown: set[Key]) -> set[Key]:
    """Unknown cells pinned by bounds: a hidden published cell is >= 1 (zeros are shown), an
    unpublished one >= 0; each sum bounds its unknown terms by the others'."""
    inf = float("inf")
    lo: dict[Key, float] = {k: 1.0 if k in published else 0.0 for k in unknown}
    hi: dict[Key, float] = {k: inf for k in unknown}

    def known(k: Key) -> float:
        return float(values.get(k, 0))

    for _ in range(4 * len(sums) + 4):
        changed = False
        for s in sums:
            # total - sum(parts) = 0: bound each unknown term by the others
            for term in s.terms:
                if term not in unknown:
                    continue
                if term == s.total:
                    low = sum(lo[p] if p in unknown else known(p) for p in s.parts)
                    high = sum(hi[p] if p in unknown else known(p) for p in s.parts)
                else:
                    rest = [p for p in s.parts if p != term]
                    t_lo = lo[s.total] if s.total in unknown else known(s.total)
                    t_hi = hi[s.total] if s.total in unknown else known(s.total)
                    low = t_lo - sum(hi[p] if p in unknown else known(p) for p in rest)
                    high = t_hi - sum(lo[p] if p in unknown else known(p) for p in rest)
                if low > lo[term]:
                    lo[term], changed = low, True
                if high < hi[term]:
                    hi[term], changed = high, True
        if not changed:
            break
    return {k for k in unknown if lo[k] == hi[k]}
