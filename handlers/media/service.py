"""Uploads: kept, attached to the record they document, and served back to who may see it.

An upload belongs to its uploader until it is attached (a ticket, a proposal, a visit);
from then on it is seen by whoever sees that record (``handlers.media.visibility``). To
anyone else an upload does not exist: every refusal of ``fetch`` is the same 404, so ids
cannot be probed. The store is the app's (``store.open_store``) unless one is given.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import secrets
from typing import Any

from tortoise.transactions import in_transaction

from handlers.media import images, rules, visibility
from handlers.media.store import MediaMissing, MediaStore, current
from handlers.refusal import Refused
from handlers.roles import Who
from models.media import Media

log = logging.getLogger(__name__)

TOKEN = re.compile(r"[0-9a-f]{32}")
NOT_FOUND = "media.error.not_found"


def storage_key(community_id: int, media_id: str) -> str:
    return f"{community_id}/{media_id[:2]}/{media_id}"


async def upload(
    who: Who, data: bytes, *, keep_location: bool = False, store: MediaStore | None = None
) -> Media:
    """Keep one photo or voice message of ``who``'s, not yet attached to anything.

    Photos are decoded and encoded again (``handlers.media.images``): what is kept is
    what was decoded, never the sender's bytes.
    """
    found = rules.classify(data)
    width = height = None
    if found.kind is rules.Kind.IMAGE:
        cleaned = await asyncio.to_thread(
            images.clean, data, found.content_type, keep_location=keep_location
        )
        data, width, height = cleaned.data, cleaned.width, cleaned.height
    media_id = secrets.token_hex(16)
    key = storage_key(who.community_id, media_id)
    target = store or current()
    await target.put(key, data, found.content_type)
    try:
        return await Media.create(
            id=media_id,
            community_id=who.community_id,
            uploader_id=who.id,
            kind=found.kind.value,
            content_type=found.content_type,
            size=len(data),
            width=width,
            height=height,
            sha256=hashlib.sha256(data).hexdigest(),
            storage_key=key,
        )
    except BaseException:
        await asyncio.shield(_forget(target, key))
        raise


async def _forget(store: MediaStore, key: str) -> None:
    try:
        await store.delete(key)
    except Exception as exc:  # the row was never written: an orphan file, nothing worse
        log.warning("media: could not remove an unrecorded upload (%s)", type(exc).__name__)


async def attach(
    media_ids: list[str], who: Who, subject: str, subject_id: int | str, conn: Any = None
) -> None:
    """Attach ``who``'s own uploads to a record (in the caller's transaction, if given).

    Only the uploader's unattached uploads of their own community may be attached; one
    already attached to this same record is fine (a retried request), anything else
    refuses the whole list and attaches none.
    """
    wanted = list(dict.fromkeys(media_ids))
    if not wanted:
        return
    target = str(subject_id)
    if conn is None:
        async with in_transaction() as own:
            await _attach(wanted, who, subject, target, own)
    else:
        await _attach(wanted, who, subject, target, conn)


async def attach_own(media_ids: list[str], who: Who, subject: str, subject_id: int | str) -> int:
    """Attach those of the ids that are ``who``'s own unattached uploads, and leave the rest
    (a chat's WeChat media ids, or ids of others, which stay visible to their uploader only).
    Returns how many were attached."""
    # Only what could be one of our ids (a chat's WeChat media ids are longer).
    wanted = [i for i in dict.fromkeys(media_ids) if isinstance(i, str) and 0 < len(i) <= 32]
    if not wanted:
        return 0
    own = await Media.filter(
        id__in=wanted,
        community_id=who.community_id,
        uploader_id=who.id,
        subject=None,
    ).values_list("id", flat=True)
    if own:
        await attach([str(i) for i in own], who, subject, subject_id)
    return len(own)


async def _attach(wanted: list[str], who: Who, subject: str, target: str, conn: Any) -> None:
    rows = (
        await Media.filter(id__in=wanted, community_id=who.community_id, uploader_id=who.id)
        .using_db(conn)
        .select_for_update()
    )
    found = {row.id: row for row in rows}
    for media_id in wanted:
        row = found.get(media_id)
        if row is None:
            raise Refused("media.error.not_yours", 422)
        if row.subject is not None and (row.subject, row.subject_id) != (subject, target):
            raise Refused("media.error.not_yours", 422)
    fresh = [row.id for row in rows if row.subject is None]
    if not fresh:
        return
    changed = (
        await Media.filter(id__in=fresh, subject__isnull=True)
        .using_db(conn)
        .update(subject=subject, subject_id=target)
    )
    if changed != len(fresh):  # attached elsewhere meanwhile
        raise Refused("media.error.not_yours", 422)


async def may_see(who: Who, media: Media) -> bool:
    if media.community_id != who.community_id:
        return False
    if media.subject is None or media.subject_id is None:
        return media.uploader_id is not None and media.uploader_id == who.id
    return await visibility.may_see(who, media.subject, media.subject_id)


async def fetch(who: Who, media_id: str, *, store: MediaStore | None = None) -> tuple[Media, bytes]:
    """The upload and its bytes, if ``who`` may see it; else the 404 of an unknown id."""
    media = None
    if TOKEN.fullmatch(media_id):
        media = await Media.get_or_none(id=media_id, community_id=who.community_id)
    if media is None or not await may_see(who, media):
        raise Refused(NOT_FOUND, 404)
    try:
        data = await (store or current()).get(media.storage_key)
    except MediaMissing:
        log.warning("media %s: its row is there, its bytes are not", media.id)
        raise Refused(NOT_FOUND, 404) from None
    return media, data
