"""infra/retry.py (the one backoff) and infra/progress.py (the one progress bar)."""

from __future__ import annotations

import io
import logging
import threading

import pytest

from infra.progress import Progress
from infra.retry import Backoff


def _backoff(caplog: pytest.LogCaptureFixture, **kwargs: float) -> Backoff:
    caplog.set_level(logging.INFO, logger="t.retry")
    return Backoff("loop", logging.getLogger("t.retry"), **kwargs)


def test_delays_double_up_to_the_cap_and_stay_within_the_jitter(caplog):
    lows, highs = Backoff("x", logging.getLogger("t"), initial=0.2, maximum=2.0, jitter=0.25, random_=lambda: 0.0), \
        Backoff("x", logging.getLogger("t"), initial=0.2, maximum=2.0, jitter=0.25, random_=lambda: 0.999999)
    low = [lows.failed(OSError()) for _ in range(7)]
    high = [highs.failed(OSError()) for _ in range(7)]
    assert low == pytest.approx([0.15, 0.3, 0.6, 1.2, 1.5, 1.5, 1.5])
    assert high[:3] == pytest.approx([0.25, 0.5, 1.0], rel=1e-4)
    assert max(high) <= 2.0  # the cap holds even with the jitter on top


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(caplog):
    backoff = _backoff(caplog, initial=0.01)
    for _ in range(50):
        backoff.failed(ConnectionError("broker down"))
    backoff.succeeded()
    backoff.succeeded()
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["loop failing; retrying with backoff", "loop recovered"]
    assert caplog.records[-1].attempts == 50


def test_a_different_error_during_an_outage_is_logged_once_more(caplog):
    backoff = _backoff(caplog)
    backoff.failed(ConnectionError())
    backoff.failed(ConnectionError())
    backoff.failed(TimeoutError())
    backoff.failed(TimeoutError())
    assert len(caplog.records) == 2 and "another error" in caplog.records[1].getMessage()


def test_after_a_recovery_the_delay_starts_again_from_the_first_step(caplog):
    backoff = _backoff(caplog, initial=0.1, jitter=0.0)
    for _ in range(5):
        backoff.failed(OSError())
    backoff.succeeded()
    assert backoff.failed(OSError()) == pytest.approx(0.1)


def test_call_retries_until_success_and_gives_up_after_the_last_attempt(caplog):
    backoff, waits, tries = _backoff(caplog, initial=0.5, jitter=0.0), [], iter([OSError(), OSError(), "ok"])

    def attempt() -> str:
        outcome = next(tries)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert backoff.call(attempt, sleep=waits.append) == "ok"
    assert waits == [0.5, 1.0] and not backoff.failing
    with pytest.raises(ValueError):
        backoff.call(lambda: (_ for _ in ()).throw(ValueError("non")), attempts=2, sleep=waits.append)


def test_wait_returns_as_soon_as_stop_is_set(caplog):
    backoff, stop = _backoff(caplog, initial=30.0, maximum=30.0), threading.Event()
    stop.set()
    backoff.wait(stop, OSError())  # would be 30 s otherwise
    assert backoff.failing


def test_the_progress_bar_shows_the_count_the_unit_the_rate_and_the_time_left():
    out = io.StringIO()
    bar = Progress("territoire 76", out, unit="parcours", rate_unit="parcours/s", every=0)
    bar.start(4)
    bar.detail = "12 commandes"
    bar.update(2)
    line = out.getvalue().rsplit("\r", 1)[-1]
    assert line.startswith("territoire 76 [###############")
    assert "2/4 parcours, 12 commandes" in line and " 50.0 % " in line and "parcours/s reste" in line
    bar.update(4)
    bar.finish()
    assert out.getvalue().endswith("\n") and "4/4 parcours" in out.getvalue()


def test_the_progress_bar_redraws_at_most_every_interval():
    out = io.StringIO()
    bar = Progress("reconstruction", out, every=3600)
    bar.start(1000)
    for done in range(1, 1001):
        bar.update(done)
    assert out.getvalue().count("\r") == 1  # the first draw; the rest wait for the interval
    bar.finish()
    assert "1000/1000 événements" in out.getvalue() and "év/s" in out.getvalue()
