"""Each capability is declared once, in its package, and the app runs what it declares."""

from __future__ import annotations

from pathlib import Path

from bot.app import job_round
from bot.capabilities import MODULES, capabilities, chat_router
from handlers.openapi import api_routes

HANDLERS = Path(__file__).resolve().parent.parent / "handlers"


def test_every_capability_folder_is_in_the_one_list():
    folders = {p.parent.name for p in HANDLERS.glob("*/__init__.py")}
    assert folders == {module.__name__.rsplit(".", 1)[-1] for module in MODULES}
    assert [c.name for c in capabilities()] == [m.__name__.rsplit(".", 1)[-1] for m in MODULES]


def test_the_app_mounts_every_declared_route_table(client):
    mounted = {handler for _, _, handler in api_routes(client.server.app)}
    declared = {route.handler for c in capabilities() if c.routes is not None for route in c.routes}
    assert declared and declared <= mounted


def test_the_chat_router_is_every_capability_s_routes_in_list_order():
    expected = [route for c in capabilities() if c.chat is not None for route in c.chat.routes]
    assert chat_router().routes == expected


def test_the_job_round_runs_every_declared_job_then_the_sending(app_state):
    names = [job.name for job in job_round(app_state)]
    declared = [job.name for c in capabilities() for job in c.jobs]
    assert names[: len(declared)] == declared
    assert names[len(declared) :] == [
        "owed replies",
        "follower unionids",
        "notice deliveries",
        "customer group notices",
        "handled-message ledger",
    ]
    # The relay words what the others recorded in the same round: it comes after them.
    assert names.index("notifications") > names.index("ticket deadlines")


def test_notification_texts_and_audiences_come_from_their_capabilities():
    by_name = {c.name: c for c in capabilities()}
    assert all(kind.startswith("ticket.") for kind in by_name["complaints"].texts)
    assert all(kind.startswith("proposal.") for kind in by_name["proposals"].texts)
    assert set(by_name["complaints"].audiences) == {"ticket"}
    assert set(by_name["proposals"].audiences) == {"proposal"}
