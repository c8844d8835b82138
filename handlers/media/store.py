"""Where the bytes of uploads live: a folder on the embedded service, S3 in production.

The database row (``models.media.Media``) says whose an upload is; the store only keeps
bytes under a key nobody can guess. ``LocalStore`` writes under the data directory (which
``linli backup`` archives as ``media/``); ``S3Store`` speaks to any S3-compatible service
(MinIO, Tencent COS, Aliyun OSS) over the app's own aiohttp session, signed with SigV4
(``handlers.media.sigv4``): three calls do not need an SDK and its pinned botocore.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import aiohttp
from aiohttp import web
from yarl import URL

from handlers.media import sigv4

# Our keys are ``<community>/<xx>/<token>``: nothing that could climb out of the folder.
KEY = re.compile(r"[0-9a-z]+(/[0-9a-z]+)*")
S3_TIMEOUT = aiohttp.ClientTimeout(total=30, sock_connect=5)


class MediaMissing(KeyError):
    """The store has no bytes under this key (deleted, or a restore without media)."""


class MediaStoreError(RuntimeError):
    """The store answered with an error; the message holds its status, nothing else."""


class MediaStore(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None: ...


def checked_key(key: str) -> str:
    if not KEY.fullmatch(key):
        raise ValueError("not a media key")
    return key


class LocalStore:
    """Files under ``directory``, each written whole (a temporary file, then a rename)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def _path(self, key: str) -> Path:
        return self.directory.joinpath(*checked_key(key).split("/"))

    def _write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".put-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def _read(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise MediaMissing(key) from None

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._write, key, data)

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._read, key)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, True)


class S3Store:
    """Objects in one bucket of an S3-compatible service.

    ``endpoint`` is the service's base URL; path-style (``https://minio:9000``, the bucket
    in the path) unless it names ``{bucket}`` in the host, for services that only take
    virtual-hosted buckets (``https://{bucket}.oss-cn-shenzhen.aliyuncs.com``).
    """

    def __init__(
        self,
        endpoint: str,
        bucket: str,
        access_key: str,
        secret_key: str,
        region: str = "us-east-1",
        *,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.bucket = bucket
        self.access_key, self.secret_key = access_key, secret_key
        self.region = region or "us-east-1"
        self._session = session
        self._own_session = session is None

    def url(self, key: str) -> str:
        key = checked_key(key)
        if "{bucket}" in self.endpoint:
            return f"{self.endpoint.replace('{bucket}', self.bucket)}/{key}"
        return f"{self.endpoint}/{self.bucket}/{key}"

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=S3_TIMEOUT)
            self._own_session = True
        return self._session

    async def close(self) -> None:
        """Close the session if this store opened it (not the app's, when given one)."""
        if self._own_session and self._session is not None:
            await self._session.close()

    async def _call(
        self, method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        digest = hashlib.sha256(body).hexdigest() if body else sigv4.EMPTY_SHA256
        signed = sigv4.sign(
            method,
            url,
            headers or {},
            payload_sha256=digest,
            access_key=self.access_key,
            secret_key=self.secret_key,
            region=self.region,
            now=datetime.now(UTC),
        )
        async with self._client().request(
            method,
            URL(url, encoded=True),
            data=body or None,
            headers=signed,
            timeout=S3_TIMEOUT,
        ) as resp:
            return resp.status, await resp.read()

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        url = self.url(key)
        status, _ = await self._call("PUT", url, data, {"Content-Type": content_type})
        if status >= 300:
            raise MediaStoreError(f"S3 PUT answered {status}")

    async def get(self, key: str) -> bytes:
        status, body = await self._call("GET", self.url(key))
        if status == 404:
            raise MediaMissing(key)
        if status >= 300:
            raise MediaStoreError(f"S3 GET answered {status}")
        return body

    async def delete(self, key: str) -> None:
        status, _ = await self._call("DELETE", self.url(key))
        if status >= 300 and status != 404:
            raise MediaStoreError(f"S3 DELETE answered {status}")


class MediaSettings(Protocol):
    """The fields of ``config.settings.Settings`` a store is opened from."""

    data_dir: Path
    media_dir: Path | None
    media_s3_endpoint: str
    media_s3_bucket: str
    media_s3_access_key: str
    media_s3_secret_key: str
    media_s3_region: str


def open_store(
    settings: MediaSettings, session: aiohttp.ClientSession | None = None
) -> LocalStore | S3Store:
    """S3 when an endpoint and a bucket are configured, else the folder (``media_dir``,
    by default ``media/`` under the data directory); the process's store from now on."""
    store: LocalStore | S3Store
    if settings.media_s3_endpoint and settings.media_s3_bucket:
        store = S3Store(
            settings.media_s3_endpoint,
            settings.media_s3_bucket,
            settings.media_s3_access_key,
            settings.media_s3_secret_key,
            settings.media_s3_region,
            session=session,
        )
    else:
        store = LocalStore(settings.media_dir or settings.data_dir / "media")
    _opened[:] = [store]
    return store


# The process's store, for callers outside a request (the chat, a job); a request uses
# its own app's (``MEDIA_STORE``), which is the same one unless a test runs two apps.
_opened: list[MediaStore] = []
MEDIA_STORE = web.AppKey("linli_media_store", MediaStore)


def current() -> MediaStore:
    if not _opened:
        raise RuntimeError("the media store is not open yet")
    return _opened[0]


def of_app(app: web.Application) -> MediaStore:
    found = app.get(MEDIA_STORE)
    return found if found is not None else current()
