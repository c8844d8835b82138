"""``linli backup`` and ``linli restore``: into an empty database, every row comes back."""

from __future__ import annotations

import json
import stat
import tarfile
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from bot.backup import MANIFEST, BackupError, backup, restore
from bot.spool import Spool
from handlers.complaints import service as complaints
from handlers.proposals import service as proposals
from handlers.volunteers import points, teams
from models.community import Household
from models.complaints import Ticket
from models.db import database
from models.proposals import Vote
from models.volunteers import PointsEntry
from tests.conftest import PG_SERVER, PG_URL, _admin
from tests.proposals import factories
from tests.world import T0, World

DURING = T0 + timedelta(days=6)
TABLES = {Household: "households", Vote: "votes", Ticket: "tickets", PointsEntry: "ledger"}


async def _community_life(world: World) -> dict[str, list[int]]:
    """Households, a vote, a ticket and points-ledger lines, made through the services."""
    homes = await world.add_households(world.buildings[0], 4)
    voters = [await world.resident(h) for h in homes]
    worker = await world.worker()
    proposal_id = await factories.voting(world, voters[0], worker)
    for voter in voters:
        await proposals.cast_vote(proposal_id, voter.id, "yes", DURING)
    await complaints.intake(voters[1], "3栋电梯坏了，一直停在五楼", DURING)
    await teams.register(voters[2], DURING)
    for n in (5, 7):
        await points.grant_points(await world.who(worker), voters[2].id, n, "表彰", "bonus", DURING)
    return {name: await _ids(model) for model, name in TABLES.items()}


async def _ids(model) -> list[int]:  # type: ignore[no-untyped-def]
    return sorted(await model.all().values_list("id", flat=True))


async def _found(database_url: str) -> dict[str, list[int]]:
    async with database(database_url, auto_migrate=False):
        return {name: await _ids(model) for model, name in TABLES.items()}


async def _spooled(settings) -> None:  # type: ignore[no-untyped-def]
    await Spool(settings.data_dir / "spool", "linli-gone").append("k-backup", _event())


def _event():  # type: ignore[no-untyped-def]
    from handlers.types import Event

    return Event(account="default", openid="o_bk", kind="text", created_at=T0, text="帮助")


async def _round_trip(world, settings, tmp_path: Path, target_url: str) -> None:  # type: ignore[no-untyped-def]
    made = await _community_life(world)
    assert all(made.values()), made
    await _spooled(settings)
    (settings.data_dir / "media").mkdir(parents=True)
    (settings.data_dir / "media" / "p1.jpg").write_bytes(b"\xff\xd8photo")
    archive = tmp_path / "backups" / "linli.tar.gz"

    manifest = await backup(settings.effective_database_url(), settings.data_dir, archive)

    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    with tarfile.open(archive) as tar:
        assert json.load(tar.extractfile(MANIFEST))["rows"] == manifest["rows"]  # type: ignore[arg-type]
    assert manifest["rows"]["proposal_vote"] == len(made["votes"])
    restored_dir = tmp_path / "restored-data"
    done = await restore(archive, target_url, restored_dir)
    assert done.rows == manifest["rows"]
    assert await _found(target_url) == made
    assert await Spool(restored_dir / "spool", "any").pending() == 1
    assert (restored_dir / "media" / "p1.jpg").read_bytes() == b"\xff\xd8photo"

    # The target now holds data: a second restore is refused unless forced.
    with pytest.raises(BackupError, match="--force"):
        await restore(archive, target_url, restored_dir)
    await restore(archive, target_url, restored_dir, force=True)
    assert await _found(target_url) == made
    assert await Spool(restored_dir / "spool", "any").pending() == 1  # merged, not doubled


async def test_a_sqlite_backup_restores_every_row_into_an_empty_database(
    world, settings, tmp_path, backend
):
    if backend != "embedded":
        pytest.skip("the embedded database: the PostgreSQL case is its own test")
    target = f"sqlite://{tmp_path / 'empty' / 'linli.sqlite3'}"
    await _round_trip(world, settings, tmp_path, target)


@pytest.mark.skipif(not PG_URL, reason="needs LINLI_TEST_DATABASE_URL (a PostgreSQL server)")
async def test_a_postgresql_backup_restores_every_row_into_an_empty_database(
    world, settings, tmp_path, backend
):
    if backend != "real":
        pytest.skip("PostgreSQL: runs on the real backend")
    name = f"linli_restore_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        await _round_trip(world, settings, tmp_path, f"{PG_SERVER}/{name}")
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_restore_refuses_an_archive_that_is_no_linli_backup(settings, tmp_path):
    archive = tmp_path / "other.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(__file__, arcname="../escape.py")
    with pytest.raises(BackupError, match="outside"):
        await restore(archive, settings.effective_database_url(), tmp_path / "data")


def test_the_commands_back_up_and_restore_the_embedded_database(tmp_path, monkeypatch, capsys):
    from bot.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LINLI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("LINLI_DATABASE_URL", raising=False)
    assert main(["migrate"]) == 0
    (tmp_path / "out").mkdir()
    assert main(["backup", "--out", str(tmp_path / "out")]) == 0
    [archive] = (tmp_path / "out").glob("linli-backup-*.tar.gz")
    # Into an empty data directory, and back over the original with --force.
    monkeypatch.setenv("LINLI_DATA_DIR", str(tmp_path / "fresh"))
    assert main(["restore", str(archive)]) == 0
    assert (tmp_path / "fresh" / "linli.sqlite3").exists()
    monkeypatch.setenv("LINLI_DATA_DIR", str(tmp_path / "data"))
    assert main(["restore", str(archive), "--force"]) == 0
    assert "restored" in capsys.readouterr().out
