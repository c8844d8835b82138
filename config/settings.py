"""Settings: environment variables (``LINLI_*``) over a TOML file over defaults.

Settings are built once by the entry point and passed down; nothing reads them
from globals at import time, so tests build the app with their own.
"""

from __future__ import annotations

import ipaddress
import json
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_DIR = Path(__file__).resolve().parent
DEFAULT_TOML = CONFIG_DIR / "linli.toml"
MENU_TOML = CONFIG_DIR / "menu.toml"
DEFAULT_ACCOUNT = "default"
DEV_TOKEN = "linli-dev-token"


class AccountSettings(BaseModel):
    """One official account (公众号); a deployment may serve one per community."""

    token: str
    appid: str = ""
    appsecret: str = ""
    aes_key: str = ""
    # With an AES key, unencrypted pushes are refused unless this says otherwise: their
    # body is not signed, so anyone holding a recent push's query string could forge one.
    allow_plaintext: bool = False
    community: str = "demo"


class MenuItem(BaseModel):
    digit: str
    key: str
    label: str


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LINLI_",
        extra="ignore",
        toml_file=os.environ.get("LINLI_CONFIG", str(DEFAULT_TOML)),
    )

    host: str = "127.0.0.1"
    port: int = 8080
    # ``linli serve --workers N``: processes sharing the port (SO_REUSEPORT); more than one
    # needs PostgreSQL and Redis, which they share. ``worker_index`` is set per process.
    workers: int = Field(default=1, ge=1, le=64)
    worker_index: int = 0
    # The serving loop (bot/loop.py); "asyncio" where uvloop is unwanted or absent.
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"
    data_dir: Path = Path("data")
    # Uploads (photos, voice): this folder (default: media/ under data_dir), or an
    # S3-compatible bucket when an endpoint and a bucket are set (MinIO, COS, OSS).
    media_dir: Path | None = None
    media_s3_endpoint: str = ""
    media_s3_bucket: str = ""
    media_s3_access_key: str = ""
    media_s3_secret_key: str = ""
    media_s3_region: str = "us-east-1"
    database_url: str = ""
    redis_url: str = ""
    callback_path: str = "/wechat"

    wechat_token: str = DEV_TOKEN
    wechat_appid: str = "wxlinlidemo000000"
    wechat_appsecret: str = ""
    wechat_aes_key: str = ""
    wechat_allow_plaintext: bool = False
    wechat_community: str = "demo"
    accounts: dict[str, AccountSettings] = Field(default_factory=dict)
    wechat_api_base: str = "https://api.weixin.qq.com"
    wecom_api_base: str = "https://qyapi.weixin.qq.com"
    # The WeCom application workers broadcast from (``/wecom/{corp}``); off when unset.
    wecom_corp_id: str = ""
    wecom_token: str = ""
    wecom_aes_key: str = ""
    wecom_community: str = "demo"
    # The secret of the corp's customer-contact application (客户联系): notices reach
    # customer groups (客户群群发) through their owners' mass-sending tasks; off when unset.
    wecom_customer_secret: str = ""
    # Template ids of the official account by notice kind; other kinds go as
    # customer-service text messages.
    notice_templates: dict[str, str] = Field(default_factory=dict)
    notices_rate_per_second: float = 20.0
    # 四议两公开: where the community requires it, an admin approves each notice first.
    notices_need_approval: bool = False

    # The mini-program (小程序): its residents sign in with wx.login codes (code2Session).
    miniprogram_appid: str = ""
    miniprogram_secret: str = ""
    miniprogram_community: str = "demo"
    # JSON API: sessions and request limits (per minute; sign-in has its own bucket).
    session_hours: float = 7 * 24
    api_rate_per_session: int = 120
    # All of one resident's sessions together; unset: twice the per-session limit.
    api_rate_per_resident: int | None = None
    api_rate_per_address: int = 600
    api_sign_in_rate_per_address: int = 20
    # Polls of one QR sign-in ticket from one address a minute (the console polls every 2 s).
    api_qr_polls_per_ticket: int = 60
    # Our reverse proxies: addresses or CIDR networks, comma-separated or a JSON list. Only
    # from them is X-Forwarded-For believed; the client is its right-most hop not theirs.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Deprecated: ``true`` with no ``trusted_proxies`` trusts loopback and private networks.
    trust_forwarded_for: bool = False
    default_language: str = "zh_Hans"
    reply_deadline_seconds: float = 4.0
    max_body_bytes: int = 64 * 1024
    timestamp_max_age_seconds: int = 300
    timestamp_max_skew_seconds: int = 30
    dedup_ttl_seconds: int = 600
    conversation_ttl_seconds: int = 600
    # One message per resident at a time: wait this long for the resident's lock (well
    # inside WeChat's 5 s), else spool the message and answer ``chat.queued``. The lock
    # expires by itself after ``resident_lock_seconds`` should its holder die.
    resident_lock_wait_seconds: float = 2.5
    resident_lock_seconds: float = 10.0
    # How often the spool is replayed (once the database and the store answer again).
    spool_replay_seconds: float = 15.0
    # The lease on a message being handled: renewed by its owner, lapsed within this long
    # after the owner dies, so WeChat's next retry runs the message.
    message_lease_seconds: float = 3.0
    jobs_interval_seconds: float = 30.0
    # False where an arq worker (``arq bot.worker.WorkerSettings``) runs the jobs instead.
    jobs_in_process: bool = True
    store_timeout_seconds: float = 0.5
    binding_code_days: int = 30
    binding_failures_per_10min: int = 5
    auto_migrate: bool = True
    log_level: str = "INFO"

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_networks(cls, value: Any) -> Any:
        """``"10.0.0.2, 172.30.80.0/24"`` or a list; a bad network stops the start-up."""
        if isinstance(value, str):
            text = value.strip()
            value = json.loads(text) if text.startswith("[") else text.split(",")
        if isinstance(value, list):
            value = [str(item).strip() for item in value if str(item).strip()]
            for item in value:
                ipaddress.ip_network(item, strict=False)
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    def all_accounts(self) -> dict[str, AccountSettings]:
        """The ``LINLI_WECHAT_*`` account is ``default``; TOML ``[accounts.x]`` add more."""
        default = AccountSettings(
            token=self.wechat_token,
            appid=self.wechat_appid,
            appsecret=self.wechat_appsecret,
            aes_key=self.wechat_aes_key,
            allow_plaintext=self.wechat_allow_plaintext,
            community=self.wechat_community,
        )
        return {DEFAULT_ACCOUNT: default, **self.accounts}

    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite://{(self.data_dir / 'linli.sqlite3').as_posix()}"

    def menu(self) -> list[MenuItem]:
        return load_menu()


def load_menu(path: Path = MENU_TOML) -> list[MenuItem]:
    data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    return [MenuItem(**item) for item in data.get("item", [])]


def load_settings(**overrides: Any) -> Settings:
    return Settings(**overrides)
