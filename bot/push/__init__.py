"""Pushing to people: official-account messages and WeCom group robots.

Only clients live here (HTTP, tokens, rate limits, typed errors); what to send to
whom, and once, is the delivery pipeline's business. Base URLs are settings
(``wechat_api_base``/``wecom_api_base``) so tests and the benchmark point the
clients at the fake servers of ``tests.fakes``.
"""

from bot.push.errors import (
    RECIPIENT_REASONS,
    PermanentError,
    PushError,
    TokenError,
    TransientError,
    error_for,
)
from bot.push.official import OfficialAccountClient
from bot.push.token import WECHAT_API_BASE, AccessTokens
from bot.push.wecom_robot import WECOM_API_BASE, GroupRobot, SlidingWindow

__all__ = [
    "RECIPIENT_REASONS",
    "WECHAT_API_BASE",
    "WECOM_API_BASE",
    "AccessTokens",
    "GroupRobot",
    "OfficialAccountClient",
    "PermanentError",
    "PushError",
    "SlidingWindow",
    "TokenError",
    "TransientError",
    "error_for",
]
