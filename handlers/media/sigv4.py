"""AWS Signature Version 4 for S3 requests, in the few lines three calls need.

Every S3-compatible store (MinIO, Tencent COS, Aliyun OSS, AWS itself) accepts it. Pure:
the same inputs give the same headers, which the tests check against AWS's published
example and against botocore's signer.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from urllib.parse import quote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def canonical_path(path: str) -> str:
    """Each segment percent-encoded once, slashes kept (S3 does not normalise paths)."""
    return quote(path or "/", safe="/~")


def signing_key(secret_key: str, day: str, region: str, service: str = "s3") -> bytes:
    key = _hmac(("AWS4" + secret_key).encode(), day)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def sign(
    method: str,
    url: str,
    headers: dict[str, str],
    *,
    payload_sha256: str,
    access_key: str,
    secret_key: str,
    region: str,
    now: datetime,
    service: str = "s3",
) -> dict[str, str]:
    """``headers`` plus ``Host``, ``x-amz-date``, ``x-amz-content-sha256`` and the
    ``Authorization`` that signs them all (``Host`` sent as signed, whatever the client
    would write). ``url`` has no query string: none of our calls needs one."""
    parts = urlsplit(url)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    signed = {
        **{name.lower(): value.strip() for name, value in headers.items()},
        "host": parts.netloc,
        "x-amz-date": stamp,
        "x-amz-content-sha256": payload_sha256,
    }
    names = sorted(signed)
    canonical = "\n".join(
        [
            method.upper(),
            canonical_path(parts.path),
            "",  # the query string
            "".join(f"{name}:{signed[name]}\n" for name in names),
            ";".join(names),
            payload_sha256,
        ]
    )
    scope = f"{stamp[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join([ALGORITHM, stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = signing_key(secret_key, stamp[:8], region, service)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    authorization = (
        f"{ALGORITHM} Credential={access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    extra = {"Host": parts.netloc, "x-amz-date": stamp, "x-amz-content-sha256": payload_sha256}
    return {**headers, **extra, "Authorization": authorization}
