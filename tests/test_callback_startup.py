"""The service does not start on a production setup with the public demo WeChat token."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot import cli
from config.settings import DEV_TOKEN, AccountSettings, Settings


@pytest.fixture
def started(monkeypatch) -> list[Any]:  # type: ignore[no-untyped-def]
    """``web.run_app`` replaced: what would have been served."""
    runs: list[Any] = []
    monkeypatch.setattr(cli.web, "run_app", lambda app, **kw: runs.append(app))
    monkeypatch.setattr(cli, "create_app", lambda settings: web.Application())
    return runs


def settings_of(tmp_path: Path, **values: Any) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, **values)


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({"database_url": "postgres://db.invalid/linli"}, id="real-database"),
        pytest.param({"redis_url": "redis://cache.invalid:6379/0"}, id="shared-store"),
        pytest.param({"host": "0.0.0.0"}, id="reachable-from-outside"),
        pytest.param({"host": "0.0.0.0", "wechat_token": ""}, id="empty-token"),
        pytest.param(
            {
                "host": "0.0.0.0",
                "wechat_token": "a-real-secret-token",
                "accounts": {"north": AccountSettings(token=DEV_TOKEN)},
            },
            id="a-second-account",
        ),
    ],
)
def test_serve_refuses_the_default_token_outside_the_embedded_demo(
    tmp_path, started, capsys, values
):
    with pytest.raises(SystemExit) as stopped:
        cli._serve(settings_of(tmp_path, **values), values.get("host", "127.0.0.1"), 8080)
    assert started == []
    assert "token" in str(stopped.value).lower()


def test_the_embedded_demo_starts_with_the_default_token_but_warns_loudly(
    tmp_path, started, capsys, caplog
):
    caplog.set_level(logging.WARNING)
    cli._serve(settings_of(tmp_path), "127.0.0.1", 8080)
    assert len(started) == 1
    assert "LINLI_WECHAT_TOKEN" in capsys.readouterr().err
    assert "LINLI_WECHAT_TOKEN" in caplog.text


def test_a_production_setup_with_its_own_token_starts_quietly(tmp_path, started, capsys):
    settings = settings_of(
        tmp_path, database_url="postgres://db.invalid/linli", wechat_token="a-real-secret"
    )
    cli._serve(settings, "0.0.0.0", 8080)
    assert len(started) == 1
    assert "TOKEN" not in capsys.readouterr().err
