"""Every bench at a small size: its invariants hold, whatever its timings.

Each bench runs as it is run by hand (``conftest.run_bench``), a process of its own that
ends with one JSON line and exits nonzero when its own checks fail; a change that breaks
what a bench checks fails here. Rates and latencies are printed, never asserted. The
benches on PostgreSQL and Redis use databases of their own (``conftest.stores_of``) and
are skipped without ``LINLI_TEST_DATABASE_URL`` / ``LINLI_TEST_REDIS_URL``; notices and
routing need neither and always run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from handlers.complaints.routing import load_taxonomy
from tests.bench.conftest import BenchRun, Stores

Run = Callable[..., BenchRun]
Backends = Callable[[str], Stores]


def passed(run: BenchRun) -> dict[str, Any]:
    """The report of a run that exited 0 (its own checks held)."""
    assert run.code == 0, run.report
    return run.report


def has_peak_rss(report: dict[str, Any]) -> None:
    peak = report["peak_rss_mb"]
    assert isinstance(peak, float) and peak > 0, peak


def test_votes_tally_is_exact_and_nobody_is_refused(bench_run: Run, bench_stores: Backends):
    households, per_household = 200, 2
    report = passed(
        bench_run(
            "votes",
            *("--households", str(households), "--per-household", str(per_household)),
            *("--concurrency", "20"),
            *bench_stores("votes").args,
        )
    )
    assert report["tally_exact"] is True
    assert report["errors"] == 0
    assert report["status_429"] == 0
    assert report["households"] == households
    assert report["residents"] == households * per_household
    has_peak_rss(report)


def test_volunteers_capacity_is_held_and_the_waitlist_in_order(
    bench_run: Run, bench_stores: Backends
):
    volunteers, capacity = 200, 50
    report = passed(
        bench_run(
            "volunteers",
            *("--volunteers", str(volunteers), "--capacity", str(capacity)),
            *("--concurrency", "20"),
            *bench_stores("volunteers").args,
        )
    )
    assert report["capacity_held"] is True
    assert report["waitlist_in_order"] is True
    assert report["confirmed"] == capacity
    assert report["waitlisted"] == volunteers - capacity
    assert report["errors"] == 0 and report["status_429"] == 0
    has_peak_rss(report)


def test_coverage_counts_every_household_once_on_postgres(bench_run: Run, bench_stores: Backends):
    households = 60
    report = passed(
        bench_run(
            "coverage",
            *("--households", str(households), "--concurrency", "10"),
            *bench_stores("coverage").args,
        )
    )
    assert report["backend"] == "postgres" and report["households"] == households
    assert report["tally_exact"] is True
    assert report["coverage_complete"] is True
    assert report["errors"] == 0
    # The mix the checks are about is there: both ways, and doors first not at home.
    assert report["online"] + report["in_person"] + report["both_ways"] == households
    assert report["both_ways"] > 0 and report["not_home"] > 0
    has_peak_rss(report)


def test_budget_orders_are_stored_as_sent_and_the_recount_agrees_on_postgres(
    bench_run: Run, bench_stores: Backends
):
    households, orderers = 60, 40
    report = passed(
        bench_run(
            "budget",
            *("--households", str(households), "--orderers", str(orderers)),
            *("--items", "6", "--changes", "0.25", "--concurrency", "10"),
            *bench_stores("budget").args,
        )
    )
    assert report["backend"] == "postgres" and report["orderers"] == orderers
    assert report["exact"] is True
    assert report["recount_equal"] is True
    assert report["errors"] == 0
    assert report["by_chat"] > 0 and report["by_api"] > 0 and report["changes"] > 0
    assert report["orders"] == orderers + report["changes"]
    has_peak_rss(report)


def test_notices_reach_every_recipient_exactly_once(bench_run: Run):
    recipients = 500
    report = passed(bench_run("notices", "--recipients", str(recipients)))
    assert report["complete"] is True
    assert report["duplicates"] == 0
    assert report["rows"] == recipients
    has_peak_rss(report)


def test_routing_reports_the_heldout_and_the_corpus_apart(bench_run: Run):
    departments = set(load_taxonomy().keys)
    report = passed(bench_run("routing", "--passes", "1"))
    assert report["items"]["heldout"] > 0 and report["items"]["corpus"] > 0
    assert isinstance(report["accuracy"], float) and 0.0 <= report["accuracy"] <= 1.0
    # The headline is the held-out accuracy, never the in-sample fit.
    assert report["accuracy"] == report["heldout"]["accuracy"]
    for name in ("heldout", "corpus"):
        figures = report[name]
        assert 0.0 <= figures["accuracy"] <= 1.0
        assert 0.0 <= figures["triage_share"] <= 1.0
        assert figures["per_style"] and figures["per_split"]
        assert all(0.0 <= v <= 1.0 for v in figures["per_style"].values())
        assert all(0.0 <= v <= 1.0 for v in figures["per_split"].values())
        assert set(figures["departments"]) == departments, name
        rows = figures["departments"].values()
        assert sum(row["items"] for row in rows) == report["items"][name]
        for row in rows:
            for key in ("precision", "recall", "f1"):
                assert row[key] is None or 0.0 <= row[key] <= 1.0, row
        for key in ("accuracy_routed", "triage_top2"):
            assert figures[key] is None or 0.0 <= figures[key] <= 1.0, (name, key)
    has_peak_rss(report)


def test_api_answers_right_and_its_limit_holds(bench_run: Run, bench_stores: Backends):
    limit = 5
    report = passed(
        bench_run(
            "api",
            *("--seconds", "1", "--warmup", "0.3", "--clients", "10"),
            *("--proposals", "20", "--residents", "20"),
            *("--limit", str(limit), "--limit-seconds", "1"),
            *bench_stores("api").args,
        )
    )
    # Load phase: no refusal, no other error, no wrong answer.
    assert report["status_429"] == 0
    assert report["errors"] == {}
    assert all(e["errors"] == 0 for e in report["endpoints"].values())
    assert report["wrong"] == 0
    # Limit phase: exactly the limit let through, the rest refused as a client expects.
    held = report["limit"]
    assert held["held"] is True
    assert held["ok"] == limit and held["status_429"] == held["sent"] - limit > 0
    assert held["retry_after_integer"] is True
    assert held["bystander_429"] == 0


def test_callback_answers_every_message_on_the_full_and_the_bare_path(
    bench_run: Run, bench_stores: Backends
):
    report = passed(
        bench_run(
            "callback",
            *("--levels", "1,4", "--seconds", "0.5", "--warmup", "0.2", "--openids", "20"),
            *bench_stores("callback").args,
        )
    )
    # Every answer a valid one: no error, no empty "success" where a reply was due, no
    # wrong reply (bench/callback.py counts them together).
    assert report["failures"] == 0
    assert report["msgs_per_s"] > 0 and report["bare_msgs_per_s"] > 0
    assert report["p50_ms"] is not None and report["p99_ms"] is not None
    has_peak_rss(report)
