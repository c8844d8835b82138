"""Paging is the same on every list: page from 1 to 100,000, per_page from 1 to 100."""

from __future__ import annotations

import pytest

from handlers.sessions import issue
from models.db import using


@pytest.mark.parametrize("query", ["page=0", "page=100001", "per_page=0", "per_page=101", "page=x"])
async def test_paging_out_of_range_is_a_400_everywhere(client, world, query):
    with using(world.app_state.db):
        person = await world.worker()
    token = await issue(world.app_state.store, person.id)
    for path in ("/api/v1/proposals", "/api/v1/complaints", "/api/v1/households"):
        resp = await client.get(f"{path}?{query}", headers={"Authorization": f"Bearer {token}"})
        assert resp.status == 400, path
        assert (await resp.json())["error"]["code"] == "api.error.bad_paging"
