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


async def test_models_with_the_same_name_keep_their_own_schemas(client):
    """The residents' and the volunteers' ``MeView`` are different models."""
    spec = await (await client.get("/api/v1/openapi.json")).json()

    def schema_of(path: str) -> dict:
        ref = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        return spec["components"]["schemas"][ref["schema"]["$ref"].rsplit("/", 1)[1]]

    assert "roles" in schema_of("/api/v1/me")["properties"]
    assert "skills" in schema_of("/api/v1/volunteers/me")["properties"]
