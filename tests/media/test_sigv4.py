"""Our SigV4 signs as AWS documents it and as botocore does."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from handlers.media import sigv4

# The example credentials of AWS's "Signature Calculations for the Authorization Header".
AK, SK = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
T = datetime(2013, 5, 24, tzinfo=UTC)


def signature(headers: dict[str, str]) -> str:
    return headers["Authorization"].rsplit("Signature=", 1)[1]


def test_aws_s_get_object_example():
    signed = sigv4.sign(
        "GET",
        "https://examplebucket.s3.amazonaws.com/test.txt",
        {"Range": "bytes=0-9"},
        payload_sha256=sigv4.EMPTY_SHA256,
        access_key=AK,
        secret_key=SK,
        region="us-east-1",
        now=T,
    )
    assert "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date," in signed["Authorization"]
    assert signature(signed) == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    assert signed["x-amz-date"] == "20130524T000000Z"


def test_aws_s_put_object_example_with_a_path_to_encode():
    body = b"Welcome to Amazon S3."
    signed = sigv4.sign(
        "PUT",
        "https://examplebucket.s3.amazonaws.com/test$file.text",
        {"Date": "Fri, 24 May 2013 00:00:00 GMT", "x-amz-storage-class": "REDUCED_REDUNDANCY"},
        payload_sha256=hashlib.sha256(body).hexdigest(),
        access_key=AK,
        secret_key=SK,
        region="us-east-1",
        now=T,
    )
    assert signature(signed) == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"


def test_the_same_signature_as_botocore(monkeypatch):
    auth = pytest.importorskip("botocore.auth")
    awsrequest = pytest.importorskip("botocore.awsrequest")
    credentials = pytest.importorskip("botocore.credentials")
    now = datetime(2026, 11, 30, 8, 15, 0)
    monkeypatch.setattr(auth, "get_current_datetime", lambda: now)
    url = "http://127.0.0.1:9000/linli-media/7/ab/ab0123456789abcdef0123456789abcd"
    body = b"\xff\xd8\xff photo bytes"
    digest = hashlib.sha256(body).hexdigest()
    request = awsrequest.AWSRequest(
        method="PUT",
        url=url,
        data=body,
        headers={"Content-Type": "image/jpeg", "X-Amz-Content-SHA256": digest},
    )
    auth.S3SigV4Auth(credentials.Credentials("minio", "minio-secret"), "s3", "cn-south-1").add_auth(
        request
    )
    ours = sigv4.sign(
        "PUT",
        url,
        {"Content-Type": "image/jpeg"},
        payload_sha256=digest,
        access_key="minio",
        secret_key="minio-secret",
        region="cn-south-1",
        now=now.replace(tzinfo=UTC),
    )
    assert ours["Authorization"] == request.headers["Authorization"]
