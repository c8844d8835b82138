"""The S3 store against moto's S3 server: the same calls production makes to MinIO or COS."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime

import aiohttp
import pytest

from handlers.media import sigv4
from handlers.media.store import MediaMissing, S3Store
from models.db import using
from models.media import Media
from tests.media import samples

BUCKET = "linli-media"
AK, SK, REGION = "linli-test", "linli-test-secret", "us-east-1"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=0.5) as resp:
            return bool(resp.status < 500)
    except OSError:
        return False


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": AK, "AWS_SECRET_ACCESS_KEY": SK}
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
    except OSError:
        process = None
    deadline = time.monotonic() + 30
    while process is not None and process.poll() is None and time.monotonic() < deadline:
        if _answers(endpoint + "/moto-api/"):
            break
        time.sleep(0.2)
    else:
        if process is not None:
            process.kill()
            process.wait()
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("moto's S3 server did not start")
        pytest.skip("moto's S3 server did not start")
    try:
        yield endpoint
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
        if process.poll() is None:
            process.kill()
            process.wait()


async def _create_bucket(endpoint: str) -> None:
    url = f"{endpoint}/{BUCKET}"
    headers = sigv4.sign(
        "PUT",
        url,
        {},
        payload_sha256=sigv4.EMPTY_SHA256,
        access_key=AK,
        secret_key=SK,
        region=REGION,
        now=datetime.now(UTC),
    )
    async with aiohttp.ClientSession() as session, session.put(url, headers=headers) as resp:
        assert resp.status in {200, 409}, await resp.text()  # 409: made by an earlier test


@pytest.fixture
async def s3(moto_endpoint: str) -> str:
    await _create_bucket(moto_endpoint)
    return moto_endpoint


async def test_put_get_delete(s3):
    store = S3Store(s3, BUCKET, AK, SK, REGION)
    try:
        await store.put("7/ab/ab01", b"\xff\xd8\xff photo", "image/jpeg")
        assert await store.get("7/ab/ab01") == b"\xff\xd8\xff photo"
        await store.put("7/ab/ab01", b"again", "image/jpeg")
        assert await store.get("7/ab/ab01") == b"again"
        await store.delete("7/ab/ab01")
        with pytest.raises(MediaMissing):
            await store.get("7/ab/ab01")
        await store.delete("7/ab/ab01")  # already gone: no error
    finally:
        await store.close()


def test_keys_and_bucket_styles():
    path_style = S3Store("http://minio:9000/", BUCKET, AK, SK)
    assert path_style.url("1/ab/abc") == "http://minio:9000/linli-media/1/ab/abc"
    hosted = S3Store("https://{bucket}.oss-cn-shenzhen.aliyuncs.com", BUCKET, AK, SK)
    assert hosted.url("1/ab/abc") == "https://linli-media.oss-cn-shenzhen.aliyuncs.com/1/ab/abc"
    for bad in ("../etc/passwd", "1//x", "/abs", "A/b", ""):
        with pytest.raises(ValueError):
            path_style.url(bad)


@pytest.fixture
def settings(settings, s3):  # type: ignore[no-untyped-def]
    return settings.model_copy(
        update={
            "media_s3_endpoint": s3,
            "media_s3_bucket": BUCKET,
            "media_s3_access_key": AK,
            "media_s3_secret_key": SK,
            "media_s3_region": REGION,
        }
    )


async def test_an_upload_goes_to_the_bucket_and_comes_back(client, world, s3):
    with using(world.app_state.db):
        headers = await world.headers(await world.resident())
    assert isinstance(world.app_state.media, S3Store)
    resp = await client.post("/api/v1/media", data=samples.phone_photo(), headers=headers)
    assert resp.status == 201, await resp.text()
    media_id = (await resp.json())["id"]
    fetched = await client.get(f"/api/v1/media/{media_id}", headers=headers)
    assert (fetched.status, fetched.headers["Content-Type"]) == (200, "image/jpeg")
    data = await fetched.read()
    with using(world.app_state.db):
        row = await Media.get(id=media_id)
    store = S3Store(s3, BUCKET, AK, SK, REGION)
    try:
        assert await store.get(row.storage_key) == data
    finally:
        await store.close()
    assert not (world.app_state.settings.data_dir / "media").exists()
