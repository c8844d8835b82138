"""Proposing, following one's proposals, voting, commenting and rating, by chat.

Every step takes a digit, a word in any of the three languages, or voice. A service's
``Refused`` is answered by the dispatcher, which leaves the flow where it was; where a
refusal must end a flow instead, the handler asks before it steps in (``check_voice``).
"""

from __future__ import annotations

import re
from typing import Any, cast

from handlers.i18n import N_
from handlers.proposals import service
from handlers.proposals.rules import Category
from handlers.router import Router, normalize
from handlers.types import Context, Event, Reply
from models.community import Building
from models.proposals import Proposal

router = Router(name="proposals")

TITLE_STATE = "proposals.title"
DESCRIPTION_STATE = "proposals.description"
CATEGORY_STATE = "proposals.category"
PHOTO_STATE = "proposals.photo"
CONFIRM_STATE = "proposals.confirm"
PICK_STATE = "proposals.pick"
CHOICE_STATE = "proposals.choice"
MAX_PHOTOS = 3
VOTE_ARGS = re.compile(r"[#＃]?(\d{1,9})\s*(\S*)")

CHOICE_WORDS = {
    "1": "yes",
    "赞成": "yes",
    "贊成": "yes",
    "同意": "yes",
    "支持": "yes",
    "yes": "yes",
    "y": "yes",
    "for": "yes",
    "2": "no",
    "反对": "no",
    "反對": "no",
    "不同意": "no",
    "no": "no",
    "n": "no",
    "against": "no",
    "3": "abstain",
    "弃权": "abstain",
    "棄權": "abstain",
    "abstain": "abstain",
}
CATEGORY_WORDS = {
    "1": Category.PROJECT,
    "民生微实事": Category.PROJECT,
    "民生微實事": Category.PROJECT,
    "project": Category.PROJECT,
    "2": Category.RECTIFICATION,
    "整改": Category.RECTIFICATION,
    "rectification": Category.RECTIFICATION,
}
SKIP_WORDS = frozenset({"1", "跳过", "跳過", "没有", "沒有", "skip", "no", "好了", "done"})
SUBMIT_WORDS = frozenset({"1", "提交", "确认", "確認", "submit", "yes", "y"})
WHOLE_COMMUNITY_WORDS = frozenset({"2", "全社区", "全社區", "community"})
CHOICE_NAMES = {
    "yes": N_("proposal.choice.yes"),
    "no": N_("proposal.choice.no"),
    "abstain": N_("proposal.choice.abstain"),
}
CATEGORY_NAMES = {
    "project": N_("proposal.category.project"),
    "rectification": N_("proposal.category.rectification"),
}
STATUS_NAMES = {
    "draft": N_("proposal.status.draft"),
    "submitted": N_("proposal.status.submitted"),
    "under_review": N_("proposal.status.under_review"),
    "rejected": N_("proposal.status.rejected"),
    "published": N_("proposal.status.published"),
    "voting": N_("proposal.status.voting"),
    "approved": N_("proposal.status.approved"),
    "not_approved": N_("proposal.status.not_approved"),
    "in_progress": N_("proposal.status.in_progress"),
    "completed": N_("proposal.status.completed"),
    "rated": N_("proposal.status.rated"),
    "withdrawn": N_("proposal.status.withdrawn"),
}
OUTCOME_NAMES = {
    "approved": N_("proposal.outcome.approved"),
    "not_approved": N_("proposal.outcome.not_approved"),
}


def _number(text: str) -> int | None:
    text = normalize(text).lstrip("#＃")
    return int(text) if text.isdigit() and len(text) < 10 else None


# --- proposing -------------------------------------------------------------


@router.text("提建议", "提建議", "建议", "建議", "propose", "proposal")
@router.menu("propose")
async def start_proposal(event: Event, ctx: Context) -> Reply:
    if not ctx.resident.verified:
        return Reply(ctx.t("proposal.chat.bind_first"))
    ctx.enter(TITLE_STATE)
    return Reply(ctx.t("proposal.chat.ask_title", limit=service.TITLE_MAX))


@router.state(TITLE_STATE)
async def title_typed(event: Event, ctx: Context) -> Reply:
    title = event.text.strip().rstrip("。.")
    if not 2 <= len(title) <= service.TITLE_MAX:
        ctx.enter(TITLE_STATE)
        return Reply(ctx.t("proposal.chat.ask_title", limit=service.TITLE_MAX))
    ctx.enter(DESCRIPTION_STATE, title=title)
    return Reply(ctx.t("proposal.chat.ask_description"))


@router.state(DESCRIPTION_STATE)
async def description_typed(event: Event, ctx: Context) -> Reply:
    data = dict(ctx.state_data)
    text = event.text.strip()
    if not text or len(text) > service.TEXT_MAX:
        ctx.enter(DESCRIPTION_STATE, **data)
        return Reply(ctx.t("proposal.chat.ask_description"))
    ctx.enter(CATEGORY_STATE, **data, description=text)
    return Reply(ctx.t("proposal.chat.ask_category"))


@router.state(CATEGORY_STATE)
async def category_typed(event: Event, ctx: Context) -> Reply:
    data = dict(ctx.state_data)
    category = CATEGORY_WORDS.get(normalize(event.text))
    if category is None:
        ctx.enter(CATEGORY_STATE, **data)
        return Reply(ctx.t("proposal.chat.ask_category"))
    ctx.enter(PHOTO_STATE, **data, category=category.value, photos=[])
    return Reply(ctx.t("proposal.chat.ask_photo"))


@router.state(PHOTO_STATE, kinds=("text", "voice", "image"))
async def photo_sent(event: Event, ctx: Context) -> Reply:
    data: dict[str, Any] = dict(ctx.state_data)
    if event.kind == "image" and event.media_id:
        data["photos"] = [*(data.get("photos") or [])[: MAX_PHOTOS - 1], event.media_id]
        if len(data["photos"]) < MAX_PHOTOS:
            ctx.enter(PHOTO_STATE, **data)
            return Reply(ctx.t("proposal.chat.photo_more", count=len(data["photos"])))
    elif normalize(event.text) not in SKIP_WORDS:
        ctx.enter(PHOTO_STATE, **data)
        return Reply(ctx.t("proposal.chat.ask_photo"))
    return await _confirm(ctx, data)


async def _confirm(ctx: Context, data: dict[str, Any]) -> Reply:
    scope = data.get("scope") or await service.suggested_scope(ctx.resident)
    data["scope"] = scope or {"kind": "community", "ids": []}
    ctx.enter(CONFIRM_STATE, **data)
    return Reply(
        ctx.t(
            "proposal.chat.confirm",
            title=data["title"],
            description=data["description"],
            category=ctx.t(CATEGORY_NAMES[data["category"]]),
            photos=len(data.get("photos") or []),
            scope=await scope_label(ctx, data["scope"]),
        )
    )


async def scope_label(ctx: Context, scope: dict[str, Any]) -> str:
    if scope.get("kind") == "buildings":
        names = await Building.filter(id__in=scope.get("ids") or []).values_list("name", flat=True)
        return "、".join(sorted(cast(list[str], names)))
    if scope.get("kind") == "grids":
        from models.community import Grid

        names = await Grid.filter(id__in=scope.get("ids") or []).values_list("name", flat=True)
        return "、".join(sorted(cast(list[str], names)))
    return ctx.t("proposal.scope.community")


@router.state(CONFIRM_STATE)
async def confirmed(event: Event, ctx: Context) -> Reply:
    data: dict[str, Any] = dict(ctx.state_data)
    answer = normalize(event.text)
    if answer in WHOLE_COMMUNITY_WORDS:
        data["scope"] = {"kind": "community", "ids": []}
        return await _confirm(ctx, data)
    if answer not in SUBMIT_WORDS:
        return await _confirm(ctx, data)
    if not ctx.resident.verified:
        # Unbound meanwhile: the flow ends here, so that "1" is the menu's binding again.
        return Reply(ctx.t("proposal.error.not_verified"))
    proposal = await service.create(
        await service.who(ctx.resident),
        title=data["title"],
        description=data["description"],
        category=data["category"],
        scope=data["scope"],
        photos=data.get("photos") or [],
    )
    return Reply(ctx.t("proposal.chat.submitted", id=proposal.id))


# --- following ------------------------------------------------------------


@router.text("我的建议", "我的建議", "my proposals", "myproposals")
@router.menu("my_proposals")
async def my_proposals(event: Event, ctx: Context) -> Reply:
    found = await service.mine(ctx.resident)
    if not found:
        return Reply(ctx.t("proposal.chat.none_mine"))
    lines = [ctx.t("proposal.chat.mine_title")]
    lines += [
        ctx.t(
            "proposal.chat.mine_line", id=p.id, title=p.title, status=ctx.t(STATUS_NAMES[p.status])
        )
        for p in found
    ]
    lines.append(ctx.t("proposal.chat.detail_hint"))
    return Reply("\n".join(lines))


@router.text("详情", "詳情", "detail", "details")
async def detail(event: Event, ctx: Context) -> Reply:
    number = _number(ctx.args)
    if number is None:
        return Reply(ctx.t("proposal.chat.detail_hint"))
    who = await service.who(ctx.resident)
    proposal = await service.get_visible(number, who)
    return Reply(await describe(ctx, proposal, who))


async def describe(ctx: Context, proposal: Proposal, who: service.Who) -> str:
    """A proposal ``who`` may see (``service.get_visible``), as they may see it."""
    seen = await service.view(proposal, who)
    lines = [
        ctx.t(
            "proposal.chat.detail",
            id=proposal.id,
            title=proposal.title,
            status=ctx.t(STATUS_NAMES[proposal.status]),
            category=ctx.t(CATEGORY_NAMES[proposal.category]),
            scope=await scope_label(ctx, proposal.scope),
            description=proposal.description,
        )
    ]
    if proposal.rejection_reason and proposal.status == "rejected":
        lines.append(ctx.t("proposal.chat.rejected_because", reason=proposal.rejection_reason))
    if "turnout" in seen:
        lines.append(_turnout(ctx, proposal, seen))
    result = seen.get("result")
    if result:
        lines.append(
            ctx.t(
                "proposal.chat.result",
                outcome=ctx.t(OUTCOME_NAMES[result["outcome"]]),
                eligible=result["eligible"],
                yes=result["yes"],
                no=result["no"],
                abstain=result["abstain"],
            )
        )
    if seen["rating"]["count"]:
        lines.append(
            ctx.t(
                "proposal.chat.rating",
                average=seen["rating"]["average"],
                count=seen["rating"]["count"],
            )
        )
    return "\n".join(lines)


def _turnout(ctx: Context, proposal: Proposal, seen: dict[str, Any]) -> str:
    text = ctx.t(
        "proposal.chat.turnout",
        cast=seen["turnout"],
        eligible=proposal.eligible_count,
        ends=proposal.voting_ends_at.strftime("%m-%d %H:%M") if proposal.voting_ends_at else "",
    )
    if seen.get("my_vote"):
        text += " " + ctx.t("proposal.chat.my_vote", choice=ctx.t(CHOICE_NAMES[seen["my_vote"]]))
    return text


# --- voting --------------------------------------------------------------


@router.text("投票", "vote")
@router.menu("vote")
async def vote_command(event: Event, ctx: Context) -> Reply:
    found = VOTE_ARGS.match(ctx.args)
    number = int(found[1]) if found else None
    if number is not None and found and found[2]:
        return await _cast(ctx, number, found[2])
    if number is not None:
        return await _ask_choice(ctx, number)
    if not ctx.resident.verified:
        return Reply(ctx.t("proposal.error.not_verified"))
    open_ = await service.open_votes_for(ctx.resident)
    if not open_:
        return Reply(ctx.t("proposal.chat.no_open_votes"))
    lines = [ctx.t("proposal.chat.open_votes_title")]
    who = await service.who(ctx.resident)
    for index, proposal in enumerate(open_[:9], start=1):
        seen = await service.view(proposal, who)
        lines.append(
            ctx.t("proposal.chat.open_vote_line", n=index, id=proposal.id, title=proposal.title)
        )
        lines.append("   " + _turnout(ctx, proposal, seen))
    lines.append(ctx.t("proposal.chat.pick_hint"))
    ctx.enter(PICK_STATE, ids=[p.id for p in open_[:9]])
    return Reply("\n".join(lines))


@router.state(PICK_STATE)
async def vote_picked(event: Event, ctx: Context) -> Reply:
    ids = list(ctx.state_data.get("ids") or [])
    number = _number(event.text)
    if number is None or not 1 <= number <= len(ids):
        ctx.enter(PICK_STATE, ids=ids)
        return Reply(ctx.t("proposal.chat.pick_hint"))
    return await _ask_choice(ctx, ids[number - 1])


async def _ask_choice(ctx: Context, proposal_id: int) -> Reply:
    """Ask for the choice only once the resident may vote: a refusal comes before the
    choice state, so it never holds the resident in a vote they cannot cast."""
    await service.check_voice(proposal_id, ctx.resident.id, ctx.now())
    ctx.enter(CHOICE_STATE, proposal=proposal_id)
    return Reply(ctx.t("proposal.chat.ask_choice"))


@router.state(CHOICE_STATE)
async def choice_typed(event: Event, ctx: Context) -> Reply:
    proposal_id = int(ctx.state_data["proposal"])
    if normalize(event.text) not in CHOICE_WORDS:
        ctx.enter(CHOICE_STATE, proposal=proposal_id)
        return Reply(ctx.t("proposal.chat.ask_choice"))
    ctx.leave()  # a vote that closed meanwhile is refused and the choice step ends with it
    return await _cast(ctx, proposal_id, event.text)


async def _cast(ctx: Context, proposal_id: int, typed: str) -> Reply:
    choice = CHOICE_WORDS.get(normalize(typed))
    if choice is None:
        return Reply(ctx.t("proposal.error.bad_choice"))
    done = await service.cast_vote(proposal_id, ctx.resident.id, choice, ctx.now())
    msgid = "proposal.chat.vote_changed" if done.previous else "proposal.chat.voted"
    return Reply(ctx.t(msgid, id=proposal_id, choice=ctx.t(CHOICE_NAMES[choice])))


# --- comments and ratings --------------------------------------------------


@router.text("评论", "評論", "comment")
async def comment_command(event: Event, ctx: Context) -> Reply:
    number, _, text = ctx.args.partition(" ")
    proposal_id = _number(number)
    if proposal_id is None or not text.strip():
        return Reply(ctx.t("proposal.chat.comment_hint"))
    await service.comment(proposal_id, await service.who(ctx.resident), text)
    return Reply(ctx.t("proposal.chat.commented", id=proposal_id))


@router.text("评价", "評價", "rate")
async def rate_command(event: Event, ctx: Context) -> Reply:
    words = ctx.args.split(maxsplit=2)
    proposal_id = _number(words[0]) if words else None
    stars = _number(words[1]) if len(words) > 1 else None
    if proposal_id is None or stars is None:
        return Reply(ctx.t("proposal.chat.rate_hint"))
    await service.rate(
        proposal_id, await service.who(ctx.resident), stars, words[2] if len(words) > 2 else ""
    )
    return Reply(ctx.t("proposal.chat.rated", id=proposal_id, stars=stars))
