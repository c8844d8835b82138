"""A proposal's scope (范围): the whole community, some of its grids, or some buildings.

The scope says who comments, who votes and who rates; it is stored as
``{"kind": ..., "ids": [...]}`` and checked against the community when it is set.
"""

from __future__ import annotations

from typing import Any

from handlers.refusal import Refused
from models.community import Building, Grid, Household
from models.proposals import Proposal
from models.residents import Resident


def scope_filter(community_id: int, scope: dict[str, Any]) -> dict[str, Any]:
    """``Household.filter`` arguments for the households a scope covers."""
    kind, ids = scope.get("kind"), list(scope.get("ids") or [])
    base: dict[str, Any] = {"building__community_id": community_id}
    if kind == "grids":
        base["building__grid_id__in"] = ids
    elif kind == "buildings":
        base["building_id__in"] = ids
    return base


async def check_scope(community_id: int, scope: dict[str, Any]) -> dict[str, Any]:
    """A clean scope whose grids or buildings all belong to the community."""
    kind = scope.get("kind")
    if kind == "community":
        return {"kind": "community", "ids": []}
    if kind not in {"grids", "buildings"}:
        raise Refused("proposal.error.bad_scope", 400)
    try:
        ids = sorted({int(i) for i in scope.get("ids") or []})
    except (TypeError, ValueError):
        raise Refused("proposal.error.bad_scope", 400) from None
    if not ids:
        raise Refused("proposal.error.bad_scope", 400)
    table = Building if kind == "buildings" else Grid
    found = await table.filter(community_id=community_id, id__in=ids).count()
    if found != len(ids):
        raise Refused("proposal.error.bad_scope", 400)
    return {"kind": kind, "ids": ids}


async def scope_names(community_id: int, scope: dict[str, Any]) -> list[str]:
    """The names of a scope's grids or buildings, in its order (none for the community)."""
    kind, ids = scope.get("kind"), list(scope.get("ids") or [])
    if kind not in {"grids", "buildings"} or not ids:
        return []
    table = Building if kind == "buildings" else Grid
    rows = await table.filter(community_id=community_id, id__in=ids).values_list("id", "name")
    named = {int(i): str(n) for i, n in rows}
    return [named[i] for i in ids if i in named]


async def in_scope(proposal: Proposal, household_id: int | None) -> bool:
    if household_id is None:
        return False
    return await Household.filter(
        id=household_id,
        **scope_filter(proposal.community_id, proposal.scope),
    ).exists()


async def suggested_scope(resident: Resident) -> dict[str, Any] | None:
    """The resident's own building: what a proposal from them most often concerns."""
    if resident.household_id is None:
        return None
    household = await Household.get(id=resident.household_id)
    return {"kind": "buildings", "ids": [household.building_id]}
