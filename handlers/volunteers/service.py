"""Volunteer operations shared by the chat, the JSON API and the background jobs.

The one face of the capability's database side: other code imports
``handlers.volunteers.service`` and nothing below it. The work lives in modules named for
what they do: ``teams`` (registration and teams), ``activities`` (activities and shifts),
``signups`` (sign-up, waitlist, cancellation), ``checkin`` (签到/签退, hours and points),
``attendance`` (leaders' corrections), ``points`` (ledger and rewards), ``jobs``
(reminders, check-outs), ``recognition`` (leaderboard, registration share, hours CSV) and
``views`` (JSON shapes); ``shared`` holds the policy, limits, locks and outbox.

Refusals are ``handlers.refusal.Refused`` with a catalogue message id and the status an
API caller gets; the API middleware and the chat dispatcher translate them.
"""

from __future__ import annotations

from handlers.roles import Who, who_of
from handlers.volunteers.activities import (
    ShiftChanged,
    ShiftPlan,
    add_shift,
    change_shift,
    create_activity,
    get_activity,
    get_shift,
    upcoming,
)
from handlers.volunteers.attendance import adjust, attendance, mark_no_show
from handlers.volunteers.checkin import (
    CheckOutcome,
    check_by_location,
    check_by_scene,
    site_codes,
)
from handlers.volunteers.jobs import close_ended_shifts, send_reminders
from handlers.volunteers.points import (
    RedeemOutcome,
    balance,
    create_reward,
    grant_points,
    ledger,
    redeem,
    rewards,
    total_minutes,
    update_reward,
)
from handlers.volunteers.recognition import hours_csv, hours_xlsx, leaderboard, registration
from handlers.volunteers.rules import LOCAL
from handlers.volunteers.shared import (
    POINTS_MAX,
    POLICY_FILE,
    REASON_MAX,
    SKILL_MAX,
    SKILLS_MAX,
    TEXT_MAX,
    TITLE_MAX,
    local_time,
    policy,
    span,
    when,
)
from handlers.volunteers.signups import (
    CancelOutcome,
    SignUpOutcome,
    cancel,
    my_signups,
    my_signups_page,
    release,
    sign_up,
)
from handlers.volunteers.teams import clean_skills, create_team, join_team, profile_of, register
from handlers.volunteers.views import (
    activity_detail,
    activity_view,
    entry_view,
    reward_view,
    shift_view,
    signup_view,
)

who = who_of  # the chat and the API load a Who once and pass it here

__all__ = [
    "LOCAL",
    "POINTS_MAX",
    "POLICY_FILE",
    "REASON_MAX",
    "SKILLS_MAX",
    "SKILL_MAX",
    "TEXT_MAX",
    "TITLE_MAX",
    "CancelOutcome",
    "CheckOutcome",
    "RedeemOutcome",
    "ShiftChanged",
    "ShiftPlan",
    "SignUpOutcome",
    "Who",
    "activity_detail",
    "activity_view",
    "add_shift",
    "adjust",
    "attendance",
    "balance",
    "cancel",
    "change_shift",
    "check_by_location",
    "check_by_scene",
    "clean_skills",
    "close_ended_shifts",
    "create_activity",
    "create_reward",
    "create_team",
    "entry_view",
    "get_activity",
    "get_shift",
    "grant_points",
    "hours_csv",
    "hours_xlsx",
    "join_team",
    "leaderboard",
    "ledger",
    "local_time",
    "mark_no_show",
    "my_signups",
    "my_signups_page",
    "policy",
    "profile_of",
    "redeem",
    "register",
    "registration",
    "release",
    "reward_view",
    "rewards",
    "send_reminders",
    "shift_view",
    "sign_up",
    "signup_view",
    "site_codes",
    "span",
    "total_minutes",
    "upcoming",
    "update_reward",
    "when",
    "who",
]
