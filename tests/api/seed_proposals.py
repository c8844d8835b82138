"""Proposals: rows for the API-wide tests to find, one in each stage of the lifecycle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handlers.proposals import service
from models.residents import Resident
from tests.world import World


async def seed(world: World, people: dict[str, Resident]) -> None:
    """A draft, a submitted one, one in publicity with comments, an open vote, a completed one."""
    now = datetime.now(UTC)
    resident, neighbour = await world.who(people["resident"]), await world.who(people["neighbour"])
    boss = await world.who(people["worker"])

    async def made(who: service.Who, title: str, category: str = "project", **kw: object) -> int:
        proposal = await service.create(
            who, title=title, description=f"{title}，请大家看看。", category=category, **kw
        )
        return proposal.id

    async def published(title: str, at: datetime, category: str = "project") -> int:
        proposal_id = await made(resident, title, category)
        await service.act(proposal_id, boss, "review", at)
        await service.act(proposal_id, boss, "publish", at)
        return proposal_id

    await made(resident, "楼道加装扶手", submit=False)
    await made(neighbour, "小区增设快递柜", photos=["media-1"], funding="street")
    await made(boss, "全社区更换路灯", scope={"kind": "community"})

    in_publicity = await published("3栋门口加装路灯", now, "rectification")
    for who, text in (
        (resident, "支持，晚上太黑了"),
        (neighbour, "希望用节能灯"),
        (boss, "已转物业"),
    ):
        await service.comment(in_publicity, who, text)
    rude = await service.comment(in_publicity, neighbour, "广告：低价装修")
    await service.hide_comment(rude.id, boss, "广告")

    voting = await published("健身器材翻新", now - timedelta(days=6))
    await service.open_voting(voting, boss, now, days=7)
    await service.cast_vote(voting, people["resident"].id, "yes", now)
    await service.cast_vote(voting, people["neighbour"].id, "no", now)

    done = await published("楼顶防水维修", now - timedelta(days=30))
    await service.open_voting(done, boss, now - timedelta(days=20), days=7)
    for person in (people["resident"], people["neighbour"]):
        await service.cast_vote(done, person.id, "yes", now - timedelta(days=19))
    lock = world.app_state.store.lock  # type: ignore[attr-defined]
    await service.close_voting(done, boss, now - timedelta(days=12), lock)
    await service.act(done, boss, "start", now - timedelta(days=10))
    await service.add_progress(done, boss, "施工队已进场")
    await service.act(done, boss, "complete", now - timedelta(days=2))
    await service.rate(done, neighbour, 4, "不错")
