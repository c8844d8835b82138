"""入户走访 by chat: a worker lists the doors still to visit and records each, a resident
disputes what was recorded at their door.

``走访 N`` shows the coverage of vote N in the worker's grids and the first doors to
visit, numbered; a number starts the guided entry (outcome, who answered, how, confirm),
and ``走访 N 3栋-2-301 同意 张三 口头`` is the same entry in one line (what it leaves out
is asked for). Everything goes through ``service``, the API's functions, so chat refuses
what the API refuses, in the worker's language (the dispatcher translates). A signed
form (签字表) needs its photo kept as evidence, which only the console's upload does: a
photo sent in chat is WeChat's, not ours, so chat records oral answers only and says so.
"""

from __future__ import annotations

import re
from typing import Any

from handlers.canvass import lookup, service
from handlers.canvass.rules import NOTE_MAX, RESPONDENT_MAX, VisitForm
from handlers.clock import LOCAL
from handlers.i18n import N_
from handlers.roles import MANAGERS, Who, who_of
from handlers.router import Router, normalize
from handlers.types import Context, Event, Reply
from models.proposals import Proposal

router = Router(name="canvass")

LIST_STATE = "canvass.list"
OUTCOME_STATE = "canvass.outcome"
RESPONDENT_STATE = "canvass.respondent"
METHOD_STATE = "canvass.method"
NOTE_STATE = "canvass.note"
CONFIRM_STATE = "canvass.confirm"
PAGE = 10

VISIT_WORDS = ("走访", "走訪", "visit", "canvass")
DISPUTE_WORDS = ("异议", "異議", "dispute")
# The command's own arguments start with the vote's number: "visitor" is not a visit.
NUMBER_FIRST = r"[#＃]?\d{1,9}(\s|$)"
_ARGS = re.compile(NUMBER_FIRST)
_TRAILING = "。.!！?？~～,，、 \t\r\n"

MORE_WORDS = frozenset({"更多", "下一页", "下一頁", "more", "next"})
CONFIRM_WORDS = frozenset(
    {"1", "确认", "確認", "提交", "是", "对", "對", "confirm", "yes", "y", "ok"}
)
# What a worker answers to "结果？": the digit of the menu, or the word in any language.
OUTCOME_WORDS: dict[str, tuple[str, str | None]] = {
    **dict.fromkeys(
        ("1", "同意", "赞成", "贊成", "支持", "yes", "y", "agree", "for"), ("answered", "yes")
    ),
    **dict.fromkeys(("2", "反对", "反對", "不同意", "no", "n", "against"), ("answered", "no")),
    **dict.fromkeys(("3", "弃权", "棄權", "abstain"), ("answered", "abstain")),
    **dict.fromkeys(
        ("4", "不在家", "没人", "沒人", "无人", "無人", "not home", "nobody", "away"),
        ("not_home", None),
    ),
    **dict.fromkeys(("5", "拒绝", "拒絕", "拒访", "拒訪", "refused", "refuse"), ("refused", None)),
    **dict.fromkeys(("6", "空置", "空房", "vacant", "empty"), ("vacant", None)),
    **dict.fromkeys(
        ("7", "已搬离", "已搬離", "搬离", "搬離", "搬走", "moved", "moved out"), ("moved_out", None)
    ),
    **dict.fromkeys(("8", "其他", "其它", "other"), ("other", None)),
}
METHOD_WORDS: dict[str, str] = {
    **dict.fromkeys(("1", "口头", "口頭", "当面", "當面", "oral", "verbal"), "oral"),
    **dict.fromkeys(
        ("2", "签字表", "簽字表", "签字", "簽字", "征询表", "徵詢表", "form", "signed"), "form"
    ),
}
OUTCOME_NAMES = {
    "yes": N_("canvass.outcome.yes"),
    "no": N_("canvass.outcome.no"),
    "abstain": N_("canvass.outcome.abstain"),
    "answered": N_("canvass.outcome.answered"),
    "not_home": N_("canvass.outcome.not_home"),
    "refused": N_("canvass.outcome.refused"),
    "vacant": N_("canvass.outcome.vacant"),
    "moved_out": N_("canvass.outcome.moved_out"),
    "other": N_("canvass.outcome.other"),
}
METHOD_NAMES = {"oral": N_("canvass.method.oral"), "form": N_("canvass.method.form")}


def _number(text: str) -> int | None:
    text = normalize(text).lstrip("#＃")
    return int(text) if text.isdigit() and len(text) < 10 else None


def _typed(event: Event, words: int) -> list[str]:
    """The last ``words`` words as typed: a respondent's name or a reason is stored as
    it was written, not case-folded and made half-width like the command's words."""
    raw = event.text.strip().strip(_TRAILING).split()
    return raw[max(len(raw) - words, 0) :] if words else []


async def _restarted(event: Event, ctx: Context) -> Reply | None:
    """A ``走访 N …`` typed inside the flow starts over with it (commands step aside in a
    flow, so each step asks); None for anything else."""
    whole = normalize(event.text)
    for word in VISIT_WORDS:
        rest = whole[len(word) :].strip()
        if whole.startswith(word) and _ARGS.match(rest):
            ctx.args = rest
            return await visit_command(event, ctx)
    return None


def door_name(ctx: Context, building: str, unit: str, room: str) -> str:
    """A door as workers say it: 3栋2单元301 (a unit given as a bare number gets 单元)."""
    if not unit:
        return ctx.t("canvass.chat.door_plain", building=building, room=room)
    if unit.isdigit():
        return ctx.t("canvass.chat.door_unit", building=building, unit=unit, room=room)
    return ctx.t("canvass.chat.door", building=building, unit=unit, room=room)


def _local_date(value: Any) -> str:
    return value.astimezone(LOCAL).strftime("%m-%d") if value else ""


def _outcome_name(ctx: Context, outcome: str, choice: str | None) -> str:
    return ctx.t(OUTCOME_NAMES[choice if outcome == "answered" and choice else outcome])


# --- the list ------------------------------------------------------------------


@router.text(*VISIT_WORDS, bare=True)
async def visit_usage(event: Event, ctx: Context) -> Reply:
    return Reply(ctx.t("canvass.chat.usage"))


@router.text(*VISIT_WORDS, pattern=NUMBER_FIRST)
async def visit_command(event: Event, ctx: Context) -> Reply:
    words = ctx.args.split()
    proposal_id = _number(words[0])
    if proposal_id is None:
        return Reply(ctx.t("canvass.chat.usage"))
    who = await who_of(ctx.resident)
    rest = words[1:]
    if not rest:
        return await _list(ctx, who, proposal_id)
    if rest[0] in MORE_WORDS:
        return await _list(ctx, who, proposal_id, 2)
    page = _number(rest[0])
    if page is not None and len(rest) == 1:
        return await _list(ctx, who, proposal_id, max(page, 1))
    return await _one_line(event, ctx, who, proposal_id, rest)


async def _list(
    ctx: Context, who: Who, proposal_id: int, page: int = 1, shown: list[int] | None = None
) -> Reply:
    """The coverage, then ten doors to visit: page ``page``, or the ten after those
    ``shown`` already (doors recorded meanwhile drop out, so "更多" skips none)."""
    head = await _coverage(ctx, who, proposal_id)
    gap = await service.to_visit(who, proposal_id)
    if not gap:
        return Reply(head + "\n" + ctx.t("canvass.chat.all_reached"))
    if shown is None:
        shown = [d["household_id"] for d in gap[: (page - 1) * PAGE]]
    rest = [d for d in gap if d["household_id"] not in set(shown)]
    if not rest:
        return Reply(head + "\n" + ctx.t("canvass.chat.no_more", id=proposal_id))
    items = rest[:PAGE]
    doors = []
    lines = [head, ctx.t("canvass.chat.list_title", count=len(gap))]
    for n, door in enumerate(items, start=1):
        name = door_name(ctx, door["building"], door["unit"], door["room"])
        doors.append([n, door["household_id"], name])
        lines.append(ctx.t("canvass.chat.list_line", n=n, door=name, state=_state(ctx, door)))
    more = len(rest) > PAGE
    lines.append(ctx.t("canvass.chat.list_hint_more" if more else "canvass.chat.list_hint"))
    lines.append(ctx.t("canvass.chat.one_line_hint", id=proposal_id))
    seen = [*shown, *(d["household_id"] for d in items)]
    ctx.enter(LIST_STATE, proposal=proposal_id, doors=doors, shown=seen)
    return Reply("\n".join(lines))


def _state(ctx: Context, door: dict[str, Any]) -> str:
    visits = door["visits"]
    if not visits:
        return ctx.t("canvass.chat.not_visited")
    last = visits[-1]
    return ctx.t(
        "canvass.chat.last_visit",
        outcome=_outcome_name(ctx, last["outcome"], None),
        date=_local_date(last["at"]),
    )


async def _coverage(ctx: Context, who: Who, proposal_id: int) -> str:
    """Reached / eligible in the worker's grids (all of them for managers)."""
    seen = await service.coverage(who, proposal_id)
    total = seen["total"]
    title = await Proposal.filter(id=proposal_id).values_list("title", flat=True)
    return ctx.t(
        "canvass.chat.coverage_all" if who.has(MANAGERS) else "canvass.chat.coverage_mine",
        id=proposal_id,
        title=title[0] if title else "",
        reached=total["reached"],
        eligible=total["eligible"],
        not_reached=total["not_reached"],
        online=total["online"],
        in_person=total["in_person"],
        visited=total["visited"],
    )


@router.state(LIST_STATE)
async def door_picked(event: Event, ctx: Context) -> Reply:
    data = dict(ctx.state_data)
    if (again := await _restarted(event, ctx)) is not None:
        return again
    who = await who_of(ctx.resident)
    if normalize(event.text) in MORE_WORDS:
        return await _list(ctx, who, int(data["proposal"]), shown=list(data.get("shown") or []))
    number = _number(event.text)
    picked = [d for d in data.get("doors") or [] if d[0] == number]
    if not picked:
        ctx.enter(LIST_STATE, **data)
        return Reply(ctx.t("canvass.chat.pick_hint"))
    _, household_id, name = picked[0]
    entry = {"proposal": int(data["proposal"]), "household": household_id, "door": name}
    return _ask_outcome(ctx, {**entry, "back": data})


# --- the entry, step by step ---------------------------------------------------


def _ask_outcome(ctx: Context, entry: dict[str, Any], retry: bool = False) -> Reply:
    ctx.enter(OUTCOME_STATE, **entry)
    text = ctx.t("canvass.chat.ask_outcome", door=entry["door"])
    return Reply(ctx.t("canvass.chat.not_understood") + "\n" + text if retry else text)


def _complete(entry: dict[str, Any]) -> bool:
    """Whether the entry has all it needs to be recorded (by chat: an answer is oral)."""
    if entry.get("outcome") is None:
        return False
    if entry["outcome"] == "answered":
        return bool(entry.get("respondent")) and entry.get("method") == "oral"
    return entry["outcome"] != "other" or bool(entry.get("note"))


async def _next(ctx: Context, entry: dict[str, Any]) -> Reply:
    """Ask for the first thing the entry still lacks, or show it for confirmation."""
    if entry.get("outcome") is None:
        return _ask_outcome(ctx, entry)
    if entry["outcome"] == "answered":
        if not entry.get("respondent"):
            ctx.enter(RESPONDENT_STATE, **entry)
            return Reply(ctx.t("canvass.chat.ask_respondent", limit=RESPONDENT_MAX))
        if entry.get("method") != "oral":
            return _ask_method(ctx, entry, form=entry.get("method") == "form")
    elif entry["outcome"] == "other" and not entry.get("note"):
        ctx.enter(NOTE_STATE, **entry)
        return Reply(ctx.t("canvass.chat.ask_note", limit=NOTE_MAX))
    ctx.enter(CONFIRM_STATE, **entry)
    return Reply(_summary(ctx, entry))


def _ask_method(ctx: Context, entry: dict[str, Any], form: bool = False) -> Reply:
    entry = {**entry, "method": None}
    ctx.enter(METHOD_STATE, **entry)
    if form:
        return Reply(ctx.t("canvass.chat.form_in_console"))
    return Reply(ctx.t("canvass.chat.ask_method"))


@router.state(OUTCOME_STATE)
async def outcome_given(event: Event, ctx: Context) -> Reply:
    entry = dict(ctx.state_data)
    if (again := await _restarted(event, ctx)) is not None:
        return again
    found = OUTCOME_WORDS.get(normalize(event.text))
    if found is None:
        return _ask_outcome(ctx, entry, retry=True)
    entry["outcome"], entry["choice"] = found
    return await _next(ctx, entry)


@router.state(RESPONDENT_STATE)
async def respondent_given(event: Event, ctx: Context) -> Reply:
    entry = dict(ctx.state_data)
    if (again := await _restarted(event, ctx)) is not None:
        return again
    respondent = " ".join(event.text.strip().strip(_TRAILING).split())
    if not respondent or len(respondent) > RESPONDENT_MAX:
        ctx.enter(RESPONDENT_STATE, **entry)
        return Reply(ctx.t("canvass.chat.ask_respondent", limit=RESPONDENT_MAX))
    return await _next(ctx, {**entry, "respondent": respondent})


@router.state(METHOD_STATE, kinds=("text", "voice", "image"))
async def method_given(event: Event, ctx: Context) -> Reply:
    entry = dict(ctx.state_data)
    if (again := await _restarted(event, ctx)) is not None:
        return again
    if event.kind == "image":
        return _ask_method(ctx, entry, form=True)
    method = METHOD_WORDS.get(normalize(event.text))
    if method is None:
        return _ask_method(ctx, entry)
    if method == "form":
        return _ask_method(ctx, entry, form=True)
    return await _next(ctx, {**entry, "method": method})


@router.state(NOTE_STATE)
async def note_given(event: Event, ctx: Context) -> Reply:
    entry = dict(ctx.state_data)
    if (again := await _restarted(event, ctx)) is not None:
        return again
    note = event.text.strip()
    if not note or len(note) > NOTE_MAX:
        ctx.enter(NOTE_STATE, **entry)
        return Reply(ctx.t("canvass.chat.ask_note", limit=NOTE_MAX))
    return await _next(ctx, {**entry, "note": note})


def _summary(ctx: Context, entry: dict[str, Any]) -> str:
    lines = [
        ctx.t("canvass.chat.confirm_title", id=entry["proposal"], door=entry["door"]),
        ctx.t(
            "canvass.chat.confirm_outcome",
            outcome=_outcome_name(ctx, entry["outcome"], entry.get("choice")),
        ),
    ]
    if entry["outcome"] == "answered":
        lines.append(
            ctx.t(
                "canvass.chat.confirm_answer",
                respondent=entry["respondent"],
                method=ctx.t(METHOD_NAMES[entry["method"]]),
            )
        )
    if entry.get("note"):
        lines.append(ctx.t("canvass.chat.confirm_note", note=entry["note"]))
    lines.append(ctx.t("canvass.chat.confirm_hint"))
    return "\n".join(lines)


@router.state(CONFIRM_STATE)
async def confirmed(event: Event, ctx: Context) -> Reply:
    entry = dict(ctx.state_data)
    if (again := await _restarted(event, ctx)) is not None:
        return again
    if normalize(event.text) not in CONFIRM_WORDS:
        ctx.enter(CONFIRM_STATE, **entry)
        return Reply(_summary(ctx, entry))
    ctx.leave()  # a refusal now (the vote closed meanwhile) ends the entry with it
    return await _record(ctx, await who_of(ctx.resident), entry)


async def _record(ctx: Context, who: Who, entry: dict[str, Any]) -> Reply:
    """Record the entry, then say what was recorded and the coverage it leaves; back to
    the list it came from, without the door just done."""
    form = VisitForm(
        outcome=entry["outcome"],
        choice=entry.get("choice"),
        respondent=entry.get("respondent") or "",
        method=entry.get("method"),
        note=entry.get("note") or "",
    )
    proposal_id = int(entry["proposal"])
    done = await service.record_visit(who, proposal_id, int(entry["household"]), form, ctx.now())
    lines = [
        ctx.t(
            "canvass.chat.recorded",
            door=entry["door"],
            outcome=_outcome_name(ctx, form.outcome, form.choice),
        )
    ]
    if done.previous and done.previous != form.choice:
        lines.append(
            ctx.t("canvass.chat.replaced", previous=_outcome_name(ctx, "answered", done.previous))
        )
    lines.append(await _coverage(ctx, who, proposal_id))
    back = entry.get("back")
    left = [d for d in (back or {}).get("doors") or [] if d[1] != int(entry["household"])]
    if back and left:
        ctx.enter(LIST_STATE, **{**back, "doors": left})
        lines.append(ctx.t("canvass.chat.next_hint"))
    else:
        lines.append(ctx.t("canvass.chat.again_hint", id=proposal_id))
    return Reply("\n".join(lines))


# --- the entry in one line -----------------------------------------------------


async def _one_line(
    event: Event, ctx: Context, who: Who, proposal_id: int, words: list[str]
) -> Reply:
    """``走访 N 3栋-2-301 [结果 [表态人…] [方式] | 原因…]``: what is there is taken, what
    is missing is asked for; a complete entry is recorded at once, like ``投票 N 反对``."""
    door = await lookup.find_door(who, proposal_id, words[0])
    entry: dict[str, Any] = {
        "proposal": proposal_id,
        "household": door.household_id,
        "door": door_name(ctx, door.building, door.unit, door.room),
    }
    rest, typed = words[1:], _typed(event, len(words) - 1)
    if not rest:
        return _ask_outcome(ctx, entry)
    taken = 2 if len(rest) > 1 and " ".join(rest[:2]) in OUTCOME_WORDS else 1
    found = OUTCOME_WORDS.get(" ".join(rest[:taken]))
    if found is None:
        return _ask_outcome(ctx, entry, retry=True)
    entry["outcome"], entry["choice"] = found
    rest, typed = rest[taken:], typed[taken:]
    if entry["outcome"] == "answered":
        if rest and rest[-1] in METHOD_WORDS and not rest[-1].isdigit():
            entry["method"] = METHOD_WORDS[rest[-1]]
            typed = typed[:-1]
        entry["respondent"] = " ".join(typed)
    else:
        entry["note"] = " ".join(typed)
    if not _complete(entry):
        return await _next(ctx, entry)
    ctx.leave()
    return await _record(ctx, who, entry)


# --- a resident's dispute ------------------------------------------------------


@router.text(*DISPUTE_WORDS, bare=True)
async def dispute_usage(event: Event, ctx: Context) -> Reply:
    return Reply(ctx.t("canvass.chat.dispute_usage"))


@router.text(*DISPUTE_WORDS, pattern=NUMBER_FIRST)
async def dispute_command(event: Event, ctx: Context) -> Reply:
    words = ctx.args.split()
    proposal_id = _number(words[0])
    if proposal_id is None:
        return Reply(ctx.t("canvass.chat.dispute_usage"))
    reason = " ".join(_typed(event, len(words) - 1))
    made = await service.dispute(ctx.resident, proposal_id, reason, ctx.now())
    return Reply(ctx.t("canvass.chat.disputed", id=proposal_id, number=made.id))
