"""The closed vote's poster (PDF) and record (.xlsx) hold the exact counts and the digest."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
from datetime import timedelta
from pathlib import Path

import openpyxl
import pytest

from handlers.canvass.verify import verify_vote
from handlers.proposals import service
from models.proposals import Proposal
from models.residents import Role
from tests.proposals import factories
from tests.world import T0, World, bearer

OPEN = T0 + timedelta(days=5)
DURING = OPEN + timedelta(days=1)
END = OPEN + timedelta(days=7)


def pdf_text(body: bytes) -> str:
    if shutil.which("pdftotext") is None:
        if os.environ.get("CI", "").lower() == "true":
            raise AssertionError("CI needs pdftotext (poppler-utils)")
        pytest.skip("pdftotext is not installed")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "poster.pdf"
        path.write_bytes(body)
        done = subprocess.run(
            ["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, text=True
        )
    return done.stdout


async def test_the_poster_and_the_record_of_a_closed_vote(client, world: World):
    homes = await world.add_households(world.buildings[0], 9)
    people = [await world.resident(h) for h in homes]
    worker, admin = await world.worker(), await world.worker(Role.ADMIN)
    proposal_id = await factories.voting(world, people[0], worker)
    for person in people[:4]:
        await service.cast_vote(proposal_id, person.id, "yes", DURING)
    await service.cast_vote(proposal_id, people[4].id, "no", DURING)
    await factories.visited(world, proposal_id, worker, people[5:7], DURING, choice="yes")
    await factories.visited(world, proposal_id, worker, people[7:8], DURING, choice="abstain")
    await factories.visited(world, proposal_id, worker, people[8:], DURING, "vacant")
    await service.close_due(END, world.app_state.store.lock)  # type: ignore[attr-defined]
    closed = await Proposal.get(id=proposal_id)
    assert (closed.status, closed.result["eligible"], closed.result["yes"]) == ("approved", 8, 6)
    base = f"/api/v1/proposals/{proposal_id}"
    boss = bearer(await world.token(admin))
    got = await client.get(f"{base}/poster.pdf", headers=boss)
    assert got.status == 200 and got.content_type == "application/pdf"
    text = pdf_text(await got.read())
    assert closed.title in text and closed.result["digest"] in text.replace("\n", "")
    record = await client.get(f"{base}/record.xlsx", headers=boss)
    assert record.status == 200
    book = openpyxl.load_workbook(io.BytesIO(await record.read()))
    rows = list(book.worksheets[0].iter_rows(min_row=2, values_only=True))
    assert len(rows) == 9
    checked = await verify_vote(proposal_id)
    assert checked is not None and checked.ok
    # A grid worker may print the poster, not the household record; a resident neither.
    walker = await world.worker(Role.GRID_WORKER)
    walker_headers = bearer(await world.token(walker))
    assert (await client.get(f"{base}/poster.pdf", headers=walker_headers)).status == 200
    assert (await client.get(f"{base}/record.xlsx", headers=walker_headers)).status == 403
    resident = bearer(await world.token(people[0]))
    assert (await client.get(f"{base}/poster.pdf", headers=resident)).status == 403


async def test_no_poster_while_the_vote_is_open(client, world: World):
    homes = await world.add_households(world.buildings[0], 2)
    people = [await world.resident(h) for h in homes]
    worker = await world.worker()
    proposal_id = await factories.voting(world, people[0], worker)
    got = await client.get(
        f"/api/v1/proposals/{proposal_id}/poster.pdf", headers=bearer(await world.token(worker))
    )
    assert got.status == 409
