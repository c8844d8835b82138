"""点菜 and 资金 by chat.

``点菜`` shows the community's round open for ordering (群众点菜) as a numbered menu: each
project with its reviewed cost, the household's picks marked, and, under a rule that counts
the fund, what is left of it. Digits toggle projects ("3", or "1 3 5" at once), ``清空``
clears them, ``确认`` places the household's one order (the latest counts); ``点菜 1 3 5``
sets the picks in one line and asks for ``确认``. 取消 leaves the flow without a change (the
help capability's word, valid in every flow). A project whose scope leaves the household
out is shown, marked as not for their household: the menu is public, only ordering it is
not.

``资金`` shows the money in the open (资金公开) of the community's newest round, or of a year
(``资金 2026``): the fund and its sources, and each funded project's budget, spending and
progress. Any resident of the community may see it.

Everything goes through the service functions the API uses, so chat refuses what the API
refuses, in the resident's language (the dispatcher translates a ``Refused``). A toggle the
rule refuses (over the fund, more projects than allowed, out of scope) is answered with the
rule's own words and leaves the picks as they were; one that is only not enough yet (fewer
projects, or less of the fund, than the rule asks) is taken, with the rule's words as a
note, and refused at ``确认``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal

from handlers.budget import money, ordering, rounds, rules
from handlers.budget.ordering import Ballot
from handlers.budget.rules import Phase, Selection
from handlers.clock import LOCAL
from handlers.i18n import N_
from handlers.refusal import Refused
from handlers.roles import Who, who_of
from handlers.router import Router, normalize, split_command
from handlers.types import Context, Event, Reply
from models.budget import Round

router = Router(name="budget")

ORDER_STATE = "budget.order"

ORDER_WORDS = ("点菜", "點菜", "order")
FUNDS_WORDS = ("资金", "資金", "资金公开", "資金公開", "funds", "fund")
CONFIRM_WORDS = frozenset(
    {"确认", "確認", "确定", "確定", "提交", "好", "是", "confirm", "submit", "ok", "yes", "y"}
)
# A menu of 40 projects would pass WeChat's 2,048-byte reply: it is shown ten at a time.
PAGE = 10
MORE_WORDS = frozenset({"更多", "下一页", "下一頁", "more", "next"})
CLEAR_WORDS = frozenset({"清空", "清除", "全不选", "全不選", "clear", "none"})
# A command's own arguments: picks ("1 3 5", "1,3", "1、3"), a clear word, or nothing; other
# text after the word ("点菜单在哪") is not this command's and goes on (a complaint, help).
_PICKS = r"#?\d[\d\s,、]*"
ORDER_ARGS = rf"(?:{_PICKS}|{'|'.join(sorted(CLEAR_WORDS))})?$"
FUNDS_ARGS = r"(?:\d{4}\s*年?)?$"
_PICKS_RE = re.compile(_PICKS + "$")
_YEAR = re.compile(r"\d{4}")
NUMBER_MAX = 9  # digits of a menu number; longer is not a number a resident means

# Rule refusals that say "not enough yet": a toggle on the way there is taken, not refused.
NOT_YET = frozenset({"budget.error.too_few", "budget.error.under_minimum"})

PHASE_NAMES = {
    Phase.COLLECTION: N_("budget.chat.phase.collection"),
    Phase.REVIEW: N_("budget.chat.phase.review"),
    Phase.PUBLICITY: N_("budget.chat.phase.publicity"),
    Phase.ORDERING: N_("budget.chat.phase.ordering"),
    Phase.RESULT: N_("budget.chat.phase.result"),
    Phase.IMPLEMENTATION: N_("budget.chat.phase.implementation"),
    Phase.FINISHED: N_("budget.chat.phase.finished"),
}
STATUS_NAMES = {
    "funded": N_("budget.chat.status.funded"),
    "implementing": N_("budget.chat.status.implementing"),
    "accepted": N_("budget.chat.status.accepted"),
}
SOURCE_NAMES = {
    "government": N_("budget.chat.source.government"),
    "street": N_("budget.chat.source.street"),
    "grant": N_("budget.chat.source.grant"),
    "residents": N_("budget.chat.source.residents"),
    "donation": N_("budget.chat.source.donation"),
    "foundation": N_("budget.chat.source.foundation"),
}


def _when(value: datetime | None) -> str:
    return value.astimezone(LOCAL).strftime("%m-%d %H:%M") if value else ""


def _numbers(ctx: Context, numbers: Iterable[int]) -> str:
    return ctx.t("budget.chat.separator").join(str(n) for n in numbers)


def _picks_of(text: str) -> list[int] | None:
    """Menu numbers from "1 3 5", "1,3" or "1、3"; None if the text is not that."""
    text = normalize(text).lstrip("#")
    if not _PICKS_RE.match(text):
        return None
    parts = text.replace(",", " ").replace("、", " ").split()
    if any(len(p) > NUMBER_MAX for p in parts):
        return None
    return [int(p) for p in parts]


# --- which round -----------------------------------------------------------------


async def _round_to_order(ctx: Context, who: Who) -> Round | Reply:
    """The community's round in ordering (the newest year if several), or what to say:
    when ordering opens, that the menu is being prepared, that ordering is over."""
    found = await rounds.rounds(who)  # newest year first
    by_phase: dict[Phase, Round] = {}
    for one in found:
        by_phase.setdefault(Phase(one.status), one)
    if Phase.ORDERING in by_phase:
        return by_phase[Phase.ORDERING]
    if Phase.PUBLICITY in by_phase:
        soon = by_phase[Phase.PUBLICITY]
        return Reply(
            ctx.t("budget.chat.opens", title=soon.title, date=soon.phases.get(Phase.ORDERING, ""))
        )
    preparing = [r for r in found if Phase(r.status) in rules.MENU_OPEN]
    if preparing:
        return Reply(ctx.t("budget.chat.preparing", title=preparing[0].title))
    if found:
        return Reply(ctx.t("budget.chat.ordering_over", title=found[0].title))
    return Reply(ctx.t("budget.chat.no_round"))


# --- the menu and the picks ----------------------------------------------------------


def _problem(ctx: Context, ballot: Ballot, picks: Sequence[int]) -> tuple[str, bool] | None:
    """What the rule says of these picks, and whether it refuses them outright (True) or
    only finds them not enough yet (False); None when they may be ordered as they are."""
    try:
        ordering.checked(ballot, picks)
    except Refused as refused:
        return ctx.t(refused.code, **refused.params), refused.code not in NOT_YET
    return None


def _rule_lines(ctx: Context, ballot: Ballot) -> list[str]:
    rule, fund = ballot.rule, rules.money(ballot.fund)
    if rule.selection == Selection.FIT:
        lines = [ctx.t("budget.chat.rule_fit", fund=fund)]
    elif rule.selection == Selection.MINIMUM:
        least = rules.money(rules.minimum_spend(rule, ballot.fund))
        lines = [ctx.t("budget.chat.rule_minimum", fund=fund, minimum=least)]
    elif rule.selection == Selection.ANY:
        lines = [ctx.t("budget.chat.rule_any", fund=fund)]
    else:
        lines = [ctx.t("budget.chat.rule_count", fund=fund)]
    if rule.min_projects and rule.max_projects:
        lines.append(
            ctx.t("budget.chat.rule_between", min=rule.min_projects, max=rule.max_projects)
        )
    elif rule.max_projects:
        lines.append(ctx.t("budget.chat.rule_max", max=rule.max_projects))
    elif rule.min_projects:
        lines.append(ctx.t("budget.chat.rule_min", min=rule.min_projects))
    return lines


def pages(ballot: Ballot) -> int:
    return max(-(-len(ballot.menu) // PAGE), 1)


def _menu_lines(
    ctx: Context,
    ballot: Ballot,
    picks: Sequence[int],
    *,
    only_picked: bool = False,
    page: int = 1,
) -> list[str]:
    lines = []
    shown = sorted(ballot.menu)
    if not only_picked:
        shown = shown[(page - 1) * PAGE : page * PAGE]
    for number in shown:
        item = ballot.menu[number]
        if only_picked and number not in picks:
            continue
        if ballot.rule.scoped and number not in ballot.allowed:
            key = "budget.chat.item_out"
        elif number in picks:
            key = "budget.chat.item_picked"
        else:
            key = "budget.chat.item"
        lines.append(
            ctx.t(key, number=number, title=ballot.titles[number], cost=rules.money(item.cost))
        )
    return lines


def _cost(ballot: Ballot, picks: Iterable[int]) -> Decimal:
    return rules.total(ballot.menu[p] for p in picks if p in ballot.menu)


def _picks_line(ctx: Context, ballot: Ballot, picks: Sequence[int]) -> str:
    left = ballot.left(picks)
    if not picks:
        if left is None:
            return ctx.t("budget.chat.picked_none")
        return ctx.t("budget.chat.picked_none_left", left=rules.money(left))
    count, numbers = len(picks), _numbers(ctx, picks)
    total = rules.money(_cost(ballot, picks))
    if left is None:
        return ctx.t("budget.chat.picked", count=count, picks=numbers, total=total)
    return ctx.t(
        "budget.chat.picked_left", count=count, picks=numbers, total=total, left=rules.money(left)
    )


def _show(
    ctx: Context,
    ballot: Ballot,
    picks: Sequence[int],
    notes: Sequence[str] = (),
    *,
    full: bool = False,
    page: int = 1,
) -> Reply:
    """The picks (with the whole menu when ``full``), then the notes and what to reply; the
    flow goes on with these picks."""
    picks = tuple(picks)
    lines: list[str] = []
    if full:
        lines.append(
            ctx.t(
                "budget.chat.menu_title",
                title=ballot.round.title,
                ends=_when(ballot.round.ordering_ends_at),
            )
        )
        if page == 1:
            lines += _rule_lines(ctx, ballot)
        lines += _menu_lines(ctx, ballot, picks, page=page)
        if pages(ballot) > 1:
            lines.append(ctx.t("budget.chat.menu_page", page=page, pages=pages(ballot)))
    else:
        lines += _menu_lines(ctx, ballot, picks, only_picked=True)
    lines.append(_picks_line(ctx, ballot, picks))
    if ballot.picks and ballot.picks != picks:
        lines.append(ctx.t("budget.chat.stored", picks=_numbers(ctx, ballot.picks)))
    lines += notes
    lines.append(ctx.t("budget.chat.hint" if full else "budget.chat.hint_short"))
    ctx.enter(ORDER_STATE, round=ballot.round.id, picks=list(picks), page=page)
    return Reply("\n".join(lines))


async def _start(ctx: Context, who: Who, round_id: int, wanted: list[int] | None) -> Reply:
    """The menu with the household's order; ``wanted`` (from ``点菜 1 3 5``) replaces the
    picks if the rule takes them."""
    ctx.leave()  # a refusal (ordering over, not verified) ends a flow this restarts
    mine = await ordering.ballot(who, round_id, ctx.now())
    if wanted is None:
        return _show(ctx, mine, mine.picks, full=True)
    problem = _problem(ctx, mine, wanted)
    if problem is not None and problem[1]:
        return _show(ctx, mine, mine.picks, [problem[0]], full=True)
    picks = tuple(sorted(set(wanted)))
    notes = [problem[0]] if problem else []
    return _show(ctx, mine, picks, [*notes, ctx.t("budget.chat.ask_confirm")], full=True)


@router.text(*ORDER_WORDS, pattern=ORDER_ARGS)
async def order_command(event: Event, ctx: Context) -> Reply:
    who = await who_of(ctx.resident)
    found = await _round_to_order(ctx, who)
    if isinstance(found, Reply):
        return found
    args = ctx.args.strip()
    wanted = [] if args in CLEAR_WORDS else _picks_of(args) if args else None
    return await _start(ctx, who, found.id, wanted)


def _restart_args(text: str) -> str | None:
    """The arguments of a ``点菜 …`` typed inside the flow (it starts over with them), as
    the command's route reads them outside it; None for any other text."""
    whole = normalize(text)
    head, rest = split_command(text)
    for word in ORDER_WORDS:
        if whole == word:
            return ""
        if head == word:
            args = rest
        elif whole.startswith(word):
            args = whole[len(word) :].strip()
        else:
            continue
        return args if re.match(ORDER_ARGS, args) else None
    return None


@router.state(ORDER_STATE)
async def order_answer(event: Event, ctx: Context) -> Reply:
    data = dict(ctx.state_data)
    round_id, picks = int(data["round"]), tuple(int(p) for p in data.get("picks") or ())
    text = normalize(event.text)
    who = await who_of(ctx.resident)
    if re.fullmatch(rf"(?:{'|'.join(FUNDS_WORDS)})\s*{FUNDS_ARGS}", text):
        ctx.leave()  # 资金 inside the flow: the figures, and the flow ends
        return await _funds(ctx, who, _year_of(text))
    again = _restart_args(event.text)
    if again is not None:
        wanted = [] if again in CLEAR_WORDS else _picks_of(again) if again else None
        return await _start(ctx, who, round_id, wanted)
    ctx.leave()  # ordering closed meanwhile: the refusal ends the flow
    mine = await ordering.ballot(who, round_id, ctx.now())
    if text in CONFIRM_WORDS:
        return await _place(ctx, who, mine, picks)
    if text in CLEAR_WORDS:
        return _show(ctx, mine, (), [ctx.t("budget.chat.cleared")])
    if text in MORE_WORDS:
        page = int(data.get("page") or 1) % pages(mine) + 1  # after the last, the first again
        return _show(ctx, mine, picks, full=True, page=page)
    numbers = _picks_of(text)
    if not numbers:
        return _show(ctx, mine, picks, [ctx.t("budget.chat.not_understood")], full=True)
    tentative = picks
    for number in numbers:
        tentative = rules.toggle(tentative, number)
    problem = _problem(ctx, mine, tentative)
    if problem is not None and problem[1]:
        return _show(ctx, mine, picks, [problem[0]])
    return _show(ctx, mine, tentative, [problem[0]] if problem else [])


async def _place(ctx: Context, who: Who, mine: Ballot, picks: Sequence[int]) -> Reply:
    """The household's order, placed; the rule's refusal keeps the flow with the picks."""
    problem = _problem(ctx, mine, picks)
    if problem is not None:
        return _show(ctx, mine, picks, [problem[0]])
    placed = await ordering.place_order(who, mine.round.id, picks, ctx.now())
    lines = []
    if placed.items:
        lines.append(
            ctx.t(
                "budget.chat.placed",
                title=mine.round.title,
                count=len(placed.items),
                items=ctx.t("budget.chat.separator").join(
                    ctx.t("budget.chat.placed_item", number=n, title=mine.titles.get(n, ""))
                    for n in placed.items
                ),
                total=rules.money(_cost(mine, placed.items)),
            )
        )
    else:
        lines.append(ctx.t("budget.chat.placed_empty", title=mine.round.title))
    if placed.previous is not None:
        if tuple(placed.previous) == tuple(placed.items):
            lines.append(ctx.t("budget.chat.unchanged"))
        elif placed.previous:
            lines.append(ctx.t("budget.chat.replaced", picks=_numbers(ctx, placed.previous)))
        else:
            lines.append(ctx.t("budget.chat.replaced_empty"))
    lines.append(ctx.t("budget.chat.change_hint", ends=_when(mine.round.ordering_ends_at)))
    return Reply("\n".join(lines))


# --- 资金公开 --------------------------------------------------------------------------


def _year_of(text: str) -> int | None:
    found = _YEAR.search(text)
    return int(found[0]) if found else None


@router.text(*FUNDS_WORDS, pattern=FUNDS_ARGS)
async def funds_command(event: Event, ctx: Context) -> Reply:
    return await _funds(ctx, await who_of(ctx.resident), _year_of(ctx.args))


async def _funds(ctx: Context, who: Who, year: int | None) -> Reply:
    found = await rounds.rounds(who)  # newest year first
    if not found:
        return Reply(ctx.t("budget.chat.funds_no_round"))
    chosen = found[0] if year is None else next((r for r in found if r.year == year), None)
    if chosen is None:
        years = _numbers(ctx, (r.year for r in found))
        return Reply(ctx.t("budget.chat.no_round_year", year=year, years=years))
    seen = await money.finances(who, chosen.id)
    lines = [
        ctx.t(
            "budget.chat.funds_title",
            title=seen["title"],
            phase=ctx.t(PHASE_NAMES[Phase(seen["status"])]),
        ),
        ctx.t("budget.chat.funds_fund", fund=rules.money(seen["fund"])),
    ]
    for source in seen["sources"]:
        name = source["name"] or ctx.t(SOURCE_NAMES[source["kind"]])
        lines.append(
            ctx.t("budget.chat.funds_source", source=name, amount=rules.money(source["amount"]))
        )
    if seen["projects"]:
        lines.append(
            ctx.t(
                "budget.chat.funds_totals",
                count=len(seen["projects"]),
                budgeted=rules.money(seen["budgeted"]),
                spent=rules.money(seen["spent"]),
                balance=rules.money(seen["balance"]),
            )
        )
        for project in seen["projects"]:
            lines.append(
                ctx.t(
                    "budget.chat.funds_project",
                    number=project["number"],
                    title=project["title"],
                    status=ctx.t(STATUS_NAMES[project["status"]]),
                    budget=rules.money(project["budget"]),
                    spent=rules.money(project["spent"]),
                    left=rules.money(project["left"]),
                )
            )
            if project["stars"] is not None:
                lines.append(
                    ctx.t(
                        "budget.chat.funds_rating",
                        stars=project["stars"],
                        count=project["ratings"],
                    )
                )
    elif Phase(seen["status"]) in (Phase.RESULT, Phase.IMPLEMENTATION, Phase.FINISHED):
        lines.append(ctx.t("budget.chat.funds_none_funded"))
    else:
        lines.append(ctx.t("budget.chat.funds_before_result"))
    others = [r.year for r in found if r.id != chosen.id]
    if others:
        lines.append(ctx.t("budget.chat.funds_years", years=_numbers(ctx, others)))
    return Reply("\n".join(lines))
