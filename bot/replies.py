"""Plain replies → the XML WeChat expects, through wechatpy."""

from __future__ import annotations

from wechatpy.messages import BaseMessage
from wechatpy.replies import TextReply

SUCCESS = "success"


def render_text(message: BaseMessage, text: str) -> str:
    """Deterministic for one message (CreateTime is the message's), so retries get identical XML."""
    return TextReply(message=message, content=text, time=message.time).render()
