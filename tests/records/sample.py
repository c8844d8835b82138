"""A closed vote's record with distinctive numbers, to find again in what was printed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from handlers.records.data import AuditRow, BuildingCount, HouseholdRow, VoteRecord

CLOSED = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # 18:00 in Beijing
DIGEST = "9f2c4e1ab07d3c58e6f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7"
STATES = ("online", "in_person", "visited", "not_reached")


def households(count: int) -> tuple[HouseholdRow, ...]:
    """``count`` households over buildings of 40, every state and answer represented."""
    rows = []
    for i in range(count):
        state = STATES[i % 4]
        answered = state in {"online", "in_person"}
        rows.append(
            HouseholdRow(
                grid="第一网格",
                building=f"{i // 40 + 1}号楼",
                unit=str(i % 3 + 1),
                room=f"{i % 40 + 101}",
                state=state,
                choice=("yes", "no", "abstain")[i % 3] if answered else None,
                visit_reason="not_home" if state == "visited" else None,
                answered_at=CLOSED - timedelta(hours=i) if answered else None,
                recorded_by="网格员小王" if state == "in_person" else None,
                respondent="户主" if state == "in_person" else None,
                method="oral" if state == "in_person" else ("form" if answered else None),
                disputed=i == 7,
            )
        )
    return tuple(rows)


def vote_record(**changes: Any) -> VoteRecord:
    record = VoteRecord(
        community="幸福里社区",
        proposal_id=12,
        title="3号楼加装电梯",
        scope="3号楼、5号楼全体住户",
        rule="全体户数的 3/5 以上同意（含）",
        language="zh_Hans",
        eligible=120,
        vacant_excluded=4,
        online=61,
        in_person=37,
        visited_no_answer=13,
        not_reached=9,
        yes=73,
        no=19,
        abstain=6,
        outcome="approved",
        closed_at=CLOSED,
        buildings=(
            BuildingCount("3号楼", 70, 40, 20, 6, 4, 44, 11, 5),
            BuildingCount("5号楼", 50, 21, 17, 3, 9, 29, 8, 1),
        ),
        dissent=("担心施工期间噪音影响老人休息", "低层住户希望分摊比例再议"),
        flags=("5号楼 2 单元 301 户对入户记录提出异议，已复核",),
        digest=DIGEST,
        url="https://linli.example/p/12",
        households=households(8),
        audit=(
            AuditRow(
                CLOSED - timedelta(days=1),
                "网格员小王",
                "canvass.recorded",
                "3-1-101",
                "",
                "yes",
                "ab" * 32,
            ),
            AuditRow(CLOSED, "社区工作者", "vote.closed", "", "voting", "approved", DIGEST),
        ),
    )
    return replace(record, **changes)
