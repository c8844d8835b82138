"""Proposal and vote operations shared by the chat and the JSON API: the one face other
code imports (``from handlers.proposals import service``).

The work lives in the package's modules, one per stage: ``scope`` (who a proposal
concerns), ``lifecycle`` (draft to work done), ``comments`` (publicity, 公示),
``voting`` (opening and casting), ``counting`` (closing once), ``rating`` (after the
work), ``visibility`` (which proposals each person may see at all, the same rule for
every door) and ``views`` (what they see of one). Every change lands in the audit log in
its own transaction; every refusal is a ``Refused`` with the status the API answers.
"""

from __future__ import annotations

from handlers.proposals.comments import comment, hide_comment
from handlers.proposals.counting import close_due, close_voting, tally
from handlers.proposals.lifecycle import TEXT_MAX, TITLE_MAX, act, add_progress, create, get
from handlers.proposals.rating import rate
from handlers.proposals.scope import check_scope, in_scope, suggested_scope
from handlers.proposals.views import audit_trail, mine, open_votes_for, view, views
from handlers.proposals.visibility import get_visible, visible_only, visible_to
from handlers.proposals.voting import (
    CHOICES,
    RULES_FILE,
    VoteOutcome,
    cast_vote,
    check_voice,
    open_voting,
    vote_rules,
)
from handlers.roles import Who, who_of

who = who_of  # the chat and the API load a Who once and pass it here

__all__ = [
    "CHOICES",
    "RULES_FILE",
    "TEXT_MAX",
    "TITLE_MAX",
    "VoteOutcome",
    "Who",
    "act",
    "add_progress",
    "audit_trail",
    "cast_vote",
    "check_scope",
    "check_voice",
    "close_due",
    "close_voting",
    "comment",
    "create",
    "get",
    "get_visible",
    "hide_comment",
    "in_scope",
    "mine",
    "open_votes_for",
    "open_voting",
    "rate",
    "suggested_scope",
    "tally",
    "view",
    "views",
    "visible_only",
    "visible_to",
    "vote_rules",
    "who",
]
