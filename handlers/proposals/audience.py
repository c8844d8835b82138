"""Who hears of a proposal's change: its proposer, or every household of its scope
(a scope the notices pipeline expands itself)."""

from __future__ import annotations

from typing import Any

from models.proposals import Proposal


async def of_proposal(note: Any, audience: str) -> list[int] | dict[str, Any] | None:
    if audience not in {"proposer", "scope"}:
        return None
    proposal = await Proposal.get_or_none(id=note.subject_id)
    if proposal is None:
        return []
    if audience == "scope":
        return proposal.scope
    return [proposal.proposer_id] if proposal.proposer_id else []
