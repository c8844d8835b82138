"""Schemathesis against ``/api/v1/openapi.json`` on a live service with data in it.

It runs as a worker and as a plain resident; any 5xx, undocumented status or
response that breaks its schema fails the test with schemathesis's own report. In
negative mode it sends what the document forbids (a string for a boolean, a list past
its ``maxItems``): the service must refuse every such request, not act on it.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from handlers.sessions import issue
from models.db import using
from tests.api.seed import seed
from tests.conftest import APPID
from tests.fakes import FakeWeChat, start

ST = Path(sys.executable).parent / "st"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
    ]
)
MP_APPID, MP_SECRET = "wxfuzzminiprogram1", "fuzz-miniprogram-secret-01234567"
OA_SECRET = "fuzz-official-account-secret-0123"
NEGATIVE_CHECKS = "negative_data_rejection,not_a_server_error"
MAX_EXAMPLES = os.environ.get("LINLI_FUZZ_EXAMPLES", "12")
# One capability's tag ("proposals"), to look at its findings alone.
ONLY_TAG = os.environ.get("LINLI_FUZZ_TAG", "")


async def _schemathesis(
    base: str, token: str, report: Path, *, checks: str = CHECKS, mode: str = "positive"
) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        str(ST),
        "run",
        f"{base}/api/v1/openapi.json",
        "--mode",
        mode,
        "--checks",
        checks,
        *(["--include-tag", ONLY_TAG] if ONLY_TAG else []),
        "--max-examples",
        MAX_EXAMPLES,
        "--seed",
        "20261129",
        "--request-timeout",
        "10",
        "--header",
        f"Authorization: Bearer {token}",
        "--no-color",
        "--continue-on-failure",
        # Signing out would end the fuzzer's own session; tests/residents covers it.
        "--exclude-path",
        "/api/v1/auth/logout",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
        cwd=report,
    )
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode(errors="replace")


def _locked_out(report: str) -> list[str]:
    """The operations schemathesis saw answer only 401, sign-in itself left out."""
    found, listing = [], False
    for line in report.splitlines():
        if line.startswith("401 Unauthorized ("):
            listing = True
        elif listing and line.strip().startswith("- "):
            operation = line.strip()[2:]
            if not operation.split(" ")[-1].startswith("/api/v1/auth/"):
                found.append(operation)
        elif listing:
            listing = False
    return found


def test_the_lockout_check_reads_schemathesis_s_warning():
    report = (
        "401 Unauthorized (2 operations):\n  - POST /api/v1/auth/password\n  - GET /api/v1/me\n"
    )
    assert _locked_out(report) == ["GET /api/v1/me"]
    assert _locked_out("401 Unauthorized (1 operation):\n  - POST /api/v1/auth/password\n") == []


@pytest.fixture
async def fake(aiohttp_server):  # type: ignore[no-untyped-def]
    made = FakeWeChat(apps={MP_APPID: MP_SECRET, APPID: OA_SECRET})
    made.base_url = await start(made, aiohttp_server)  # type: ignore[attr-defined]
    return made


@pytest.fixture
def settings(settings, fake):  # type: ignore[no-untyped-def]
    """Sign-in wired to the fake WeChat, as in production; limits out of the fuzzer's way
    (a 429 would hide what the request would have done)."""
    return settings.model_copy(
        update={
            "api_rate_per_session": 10**6,
            "api_rate_per_address": 10**6,
            "api_sign_in_rate_per_address": 10**6,
            "miniprogram_appid": MP_APPID,
            "miniprogram_secret": MP_SECRET,
            "miniprogram_community": "test",
            "wechat_appsecret": OA_SECRET,
            "wechat_api_base": fake.base_url,
        }
    )


@pytest.mark.parametrize("as_role", ["worker", "resident"])
async def test_schemathesis_finds_no_5xx_and_no_schema_break(
    client, world, as_role, backend, tmp_path
):
    with using(world.app_state.db):
        people = await seed(world)
        token = await issue(world.app_state.store, people[as_role].id)
    base = str(client.make_url("")).rstrip("/")
    code, report = await _schemathesis(base, token, tmp_path)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"schemathesis-{backend}-{as_role}.txt").write_text(report, encoding="utf-8")
    assert code == 0, report[-6000:]
    # A fuzzer refused at the door tests nothing: its session must have held throughout
    # (a resident's 403s on workers' endpoints are expected, as are 401s from signing in
    # with made-up credentials) and the limits stayed away.
    assert not _locked_out(report), report[-3000:]
    assert "Rate limited" not in report, report[-3000:]


@pytest.mark.parametrize("as_role", ["worker", "resident"])
async def test_input_the_document_forbids_is_refused(client, world, as_role, backend, tmp_path):
    with using(world.app_state.db):
        people = await seed(world)
        token = await issue(world.app_state.store, people[as_role].id)
    base = str(client.make_url("")).rstrip("/")
    code, report = await _schemathesis(
        base, token, tmp_path, checks=NEGATIVE_CHECKS, mode="negative"
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"schemathesis-negative-{backend}-{as_role}.txt").write_text(
        report, encoding="utf-8"
    )
    # No 401 check here: an operation without input can only be made "negative" through
    # its credentials, and a forged Authorization header is rightly refused with 401.
    assert code == 0, report[-6000:]
