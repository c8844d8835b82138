"""The pool gives connections back without asyncpg's reset query, and still clean."""

from __future__ import annotations

import pytest
from tortoise.transactions import in_transaction

from models.community import Community
from models.db import PooledConnection, database
from models.residents import Resident


@pytest.fixture
def postgres_url(database_url: str) -> str:
    if not database_url.startswith("postgres"):
        pytest.skip("the pool is PostgreSQL's")
    return database_url


async def test_the_pool_is_made_of_pooled_connections(postgres_url: str):
    async with database(postgres_url, auto_migrate=False) as ctx:
        await ctx.db().execute_query("SELECT 1")  # the pool is made on the first query
        pool = ctx.db()._pool
        async with pool.acquire() as conn:
            assert isinstance(conn, PooledConnection)
            assert conn.get_reset_query() == ""


async def test_a_transaction_left_open_is_rolled_back_on_release(postgres_url: str):
    async with database(postgres_url, auto_migrate=False) as ctx:
        await ctx.db().execute_query("SELECT 1")  # the pool is made on the first query
        pool = ctx.db()._pool
        conn = await pool.acquire()
        await conn.execute("BEGIN")
        await conn.execute(
            "INSERT INTO community (slug, name, created_at) VALUES ('left-open', 'x', now())"
        )
        await pool.release(conn)
        async with pool.acquire() as again:
            assert not again.is_in_transaction()
            assert await again.fetchval("SELECT count(*) FROM community") == 0


async def test_transactions_still_commit_and_roll_back(postgres_url: str):
    async with database(postgres_url, auto_migrate=False):
        community = await Community.create(slug="pool", name="pool")
        with pytest.raises(RuntimeError):
            async with in_transaction():
                await Resident.create(community_id=community.id, openid="o_rolled_back")
                raise RuntimeError("roll back")
        async with in_transaction():
            await Resident.create(community_id=community.id, openid="o_committed")
        openids = await Resident.all().values_list("openid", flat=True)
        assert "o_committed" in openids and "o_rolled_back" not in openids
