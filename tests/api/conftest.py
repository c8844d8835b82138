"""Which backend each schemathesis run uses: every run once, not every run on both.

A 5xx or a broken schema can depend on the database, so the positive runs cover both
backends as a worker (who reaches nearly every route) and the real one as a resident;
negative runs are refused by validation before any database is asked, so they run on the
embedded one. Eight runs would be a quarter of the suite's time for little more. Without
the real services every run stays on the embedded backend.
"""

from __future__ import annotations

import pytest

FUZZED = {
    "test_schemathesis_finds_no_5xx_and_no_schema_break": {
        ("embedded", "worker"),
        ("real", "worker"),
        ("real", "resident"),
    },
    "test_input_the_document_forbids_is_refused": {
        ("embedded", "worker"),
        ("embedded", "resident"),
    },
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "real" not in {_params(item).get("backend") for item in items}:
        return
    kept, dropped = [], []
    for item in items:
        pairs = FUZZED.get(getattr(item, "originalname", ""))
        params = _params(item)
        if pairs is not None and (params.get("backend"), params.get("as_role")) not in pairs:
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def _params(item: pytest.Item) -> dict[str, object]:
    return dict(getattr(getattr(item, "callspec", None), "params", {}))
