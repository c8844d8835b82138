"""Commands community workers run: linking a WeCom account to a worker."""

from __future__ import annotations

from bot.cli import _link_wecom
from models.notices import WeComUser
from tests.world import World


async def test_link_wecom_links_and_relinks(world: World, settings, capsys):
    first, second = await world.worker(), await world.worker()
    with_corp = settings.model_copy(update={"wecom_corp_id": "ww-test-corp"})
    assert await _link_wecom(with_corp, "zhang.san", first.id) == 0
    assert await _link_wecom(with_corp, "zhang.san", second.id) == 0  # moved, not doubled
    links = await WeComUser.filter(corp_id="ww-test-corp").values_list("userid", "resident_id")
    assert links == [("zhang.san", second.id)]
    assert await _link_wecom(with_corp, "li.si", 999999) == 1
    assert await _link_wecom(settings, "li.si", first.id) == 1  # no corp configured
    assert "no resident 999999" in capsys.readouterr().err


async def test_add_worker_gives_a_console_login(world: World, settings, client, monkeypatch):
    from bot.cli import _add_worker

    monkeypatch.setenv("LINLI_PASSWORD", "a long enough password")
    in_test = settings.model_copy(update={"wechat_community": "test"})
    assert await _add_worker(in_test, "chen.hong", "陈红", "admin", None) == 0
    resp = await client.post(
        "/api/v1/auth/password", json={"login": "chen.hong", "password": "a long enough password"}
    )
    assert resp.status == 200
    assert "admin" in (await resp.json())["resident"]["roles"]
    # The login is taken now; a short password is refused.
    assert await _add_worker(in_test, "chen.hong", None, "community_worker", None) == 1
    monkeypatch.setenv("LINLI_PASSWORD", "short")
    assert await _add_worker(in_test, "zhou.min", None, "community_worker", None) == 1
