"""What a vote's printed poster and .xlsx record are made from, and nothing more.

The vote service fills these from the database; the renderers read only them, so what
was printed can be rebuilt from the same rows. Texts are already worded (scope, rule,
dissent, flags) and already anonymised: a renderer never sees a resident.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class BuildingCount:
    """One row of the by-building table: households, how they were reached, what they said."""

    building: str
    eligible: int
    online: int
    in_person: int
    not_reached: int
    visited_no_answer: int
    yes: int
    no: int
    abstain: int


@dataclass(frozen=True)
class HouseholdRow:
    """One household of the .xlsx record; ``state`` is online, in_person, visited or
    not_reached, ``choice`` yes, no, abstain or None, ``method`` form or oral."""

    grid: str
    building: str
    unit: str
    room: str
    state: str
    choice: str | None
    visit_reason: str | None  # not_home, refused, vacant, moved_out, other
    answered_at: datetime | None
    recorded_by: str | None  # the worker's display name
    respondent: str | None
    method: str | None
    disputed: bool


@dataclass(frozen=True)
class AuditRow:
    """One entry of the vote's hash-chained audit trail."""

    at: datetime
    actor: str
    action: str
    household: str
    before: str
    after: str
    digest: str


@dataclass(frozen=True)
class VoteRecord:
    """A closed vote as posted and filed. ``language`` is zh_Hans or zh_Hant, ``outcome``
    approved or not_approved; ``digest`` is the final hash anyone may verify later."""

    community: str
    proposal_id: int
    title: str
    scope: str
    rule: str
    language: str
    eligible: int
    vacant_excluded: int
    online: int
    in_person: int
    visited_no_answer: int
    not_reached: int
    yes: int
    no: int
    abstain: int
    outcome: str
    closed_at: datetime
    buildings: tuple[BuildingCount, ...]
    dissent: tuple[str, ...]
    flags: tuple[str, ...]
    digest: str
    url: str
    households: tuple[HouseholdRow, ...] = ()
    audit: tuple[AuditRow, ...] = ()
