"""``/api/v1/media``: upload a photo or a voice message, and fetch one back.

The upload is the file itself (any ``Content-Type``, ``application/octet-stream`` say) or
a ``multipart/form-data`` form with the file in its ``file`` field (``wx.uploadFile``).
Either is read here from the stream, up to the larger limit and not a byte past it
(``@doc(upload=...)`` documents it; its JSON body parsing is not for files). Signing in
takes a bearer token, which no page of another site can send without asking, so a form
post is no way in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import BaseModel, Field

from handlers.api import queried, require
from handlers.media import rules, service
from handlers.media.store import of_app
from handlers.openapi import doc
from handlers.refusal import Refused
from models.media import Media

routes = web.RouteTableDef()

TAG = "media"
CHUNK = 64 * 1024
# A form's boundaries and part headers, beside the file itself.
FORM_SLACK = 16 * 1024
FIELD = "file"
ID_PATH = {"id": {"type": "string", "pattern": "^[0-9a-f]{32}$"}}


class UploadQuery(BaseModel):
    keep_location: bool = Field(
        default=False,
        description=(
            "Keep the photo's GPS position (where a pothole is); "
            "by default every photo loses its location and all other EXIF"
        ),
    )


class MediaView(BaseModel):
    id: str = Field(description="The upload's token: attach it to a ticket, proposal or visit")
    kind: Literal["image", "voice"]
    content_type: str = Field(description="What the bytes are, told from the bytes")
    size: int = Field(ge=1)
    width: int | None = Field(description="Photos only, upright")
    height: int | None = Field(description="Photos only, upright")


async def _read(read: Callable[[int], Awaitable[bytes]]) -> bytes:
    """Everything ``read`` gives, refused as soon as it passes ``rules.MAX_BYTES``."""
    chunks, total = [], 0
    while chunk := await read(CHUNK):
        total += len(chunk)
        if total > rules.MAX_BYTES:
            rules.check_size(total)
        chunks.append(chunk)
    return b"".join(chunks)


async def _file(request: web.Request) -> bytes:
    if (request.content_length or 0) > rules.MAX_BYTES + FORM_SLACK:
        rules.check_size(request.content_length or 0)
    if request.content_type != "multipart/form-data":
        return await _read(request.content.read)
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if isinstance(part, BodyPartReader) and part.name == FIELD:
                return await _read(part.read_chunk)
            await part.release()
    # A form that is no form: no boundary, a broken or NUL-bearing part header.
    except (ValueError, AssertionError, RuntimeError, HttpProcessingError):
        raise Refused("media.error.unreadable", 400) from None
    raise Refused("media.error.empty", 400)


def view(media: Media) -> dict[str, object]:
    return {
        "id": media.id,
        "kind": media.kind,
        "content_type": media.content_type,
        "size": media.size,
        "width": media.width,
        "height": media.height,
    }


@routes.post("/api/v1/media")
@doc(
    "Upload a photo (JPEG, PNG, WebP, GIF) or a voice message (AMR, SILK, MP3, M4A, AAC, WAV, OGG)",
    tag=TAG,
    query=UploadQuery,
    response=MediaView,
    status=201,
    upload=FIELD,
    errors=(400, 413, 415, 422),
    description=(
        "The body is the file itself, or a multipart/form-data form with it in the field "
        "'file'. Its type is told from its bytes: anything else is 415. Photos up to 10 MB "
        "and 40 megapixels, voice up to 5 MB (413, 422). Photos are re-encoded upright, "
        "without EXIF. Until attached to a record, only the uploader may fetch it."
    ),
)
async def upload(request: web.Request) -> web.Response:
    who = await require(request)
    asked = queried(request, UploadQuery)
    data = await _file(request)
    media = await service.upload(
        who, data, keep_location=asked.keep_location, store=of_app(request.app)
    )
    return web.json_response(view(media), status=201)


@routes.get("/api/v1/media/{id}")
@doc(
    "An upload's bytes, for whoever may see the record it is attached to",
    tag=TAG,
    content_type=rules.CONTENT_TYPES,
    path=ID_PATH,
    description=(
        "Answered with the upload's own Content-Type (image/jpeg, audio/amr, ...). "
        "Unattached: its uploader only. Attached: whoever may see that ticket, proposal "
        "or visit. To anyone else 404, as for an id that does not exist."
    ),
)
async def fetch(request: web.Request) -> web.Response:
    who = await require(request)
    media, data = await service.fetch(who, request.match_info["id"], store=of_app(request.app))
    return web.Response(
        body=data,
        content_type=media.content_type,
        headers={
            # Who may see it can change (a ticket handed to another department).
            "Cache-Control": "private",
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": "inline",
        },
    )
