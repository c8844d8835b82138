"""A grid worker surveys from the WeCom app: ``走访 N`` and its flow reach the same chat
router as the official account, as the resident the WeCom userid is linked to."""

from __future__ import annotations

import xmltodict

from models.db import using
from models.proposals import Vote
from models.residents import Role, RoleAssignment
from tests.canvass.test_chat import DURING
from tests.notices.test_wecom import WeCom, link
from tests.notices.test_wecom import settings as settings  # the corp configured
from tests.proposals import factories
from tests.test_callback_wecom import text_xml
from tests.world import World


async def _say(wecom: WeCom, userid: str, text: str, msg_id: int) -> str:
    status, raw = await wecom.push(userid, text_xml(userid, text, msg_id))
    assert status == 200, raw
    envelope = xmltodict.parse(raw)["xml"]
    plain = wecom.crypto.decrypt_message(
        raw, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"]
    )
    return str(xmltodict.parse(plain)["xml"]["Content"])


async def test_a_grid_worker_records_a_visit_from_wecom(client, app_state, world: World):
    app_state.clock = lambda: DURING
    with using(app_state.db):
        homes = await world.add_households(world.buildings[0], 2)
        people = [await world.resident(h) for h in homes]
        proposal_id = await factories.voting(world, people[0], await world.worker())
        walker = await world.resident()
        await RoleAssignment.create(
            resident=walker, role=Role.GRID_WORKER, community=world.community, grid=world.grid
        )
        await link(world, walker, "li.si")
    wecom = WeCom(client)
    listing = await _say(wecom, "li.si", f"走访 {proposal_id}", 9_100_001)
    assert "1栋1单元" in listing and "0/2" in listing
    line = f"走访 {proposal_id} 1栋-1-{homes[1].room} 同意 户主本人 口头"
    done = await _say(wecom, "li.si", line, 9_100_002)
    assert "已登记" in done
    with using(app_state.db):
        vote = await Vote.get(proposal_id=proposal_id)
    assert (vote.choice, vote.channel, vote.recorded_by_id) == ("yes", "in_person", walker.id)
    # Broadcasting stays where it was: a grid worker may not send notices.
    refused = await _say(wecom, "li.si", "通知 全社区 明天停水", 9_100_003)
    assert "已登记" not in refused and "1栋" not in refused
