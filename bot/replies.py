"""Plain replies → the XML WeChat expects, through wechatpy.

wechatpy writes every string field as ``<![CDATA[…]]>`` without escaping, so a
resident's ``]]>`` (a proposal title, a ticket text) would close the section and
put elements of its own into other residents' replies. Every string goes through
``cdata_safe`` first.
"""

from __future__ import annotations

import re

from wechatpy.messages import BaseMessage
from wechatpy.replies import TextReply

SUCCESS = "success"
# Characters XML 1.0 does not allow at all (even in CDATA): a reply holding one is invalid.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def cdata_safe(text: str) -> str:
    """``text`` that stays one CDATA section's content: ``]]>`` split across two sections,
    characters XML cannot carry dropped."""
    return _NOT_XML.sub("", str(text)).replace("]]>", "]]]]><![CDATA[>")


def render_text(message: BaseMessage, text: str) -> str:
    """Deterministic for one message (CreateTime is the message's), so retries get identical XML.

    The same for the official account and WeCom: the reply goes back to the message's sender.
    """
    return TextReply(
        source=cdata_safe(message.target),
        target=cdata_safe(message.source),
        content=cdata_safe(text),
        time=message.time,
    ).render()
