"""The OpenAPI document covers every API route and is valid OpenAPI 3."""

from __future__ import annotations

from handlers.openapi import api_routes, operation_of


async def test_every_api_route_is_described(client):
    missing = [
        f"{method} {path}"
        for method, path, handler in api_routes(client.server.app)
        if operation_of(handler) is None
    ]
    assert missing == []


async def test_document_is_served_and_valid(client):
    from openapi_spec_validator import validate

    resp = await client.get("/api/v1/openapi.json")
    assert resp.status == 200
    spec = await resp.json()
    validate(spec)
    described = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    routes = {(m, p) for m, p, _ in api_routes(client.server.app)}
    assert described == routes
