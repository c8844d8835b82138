"""The OpenAPI 3 document, generated from the routes themselves.

Each JSON endpoint carries its description on the handler (``@doc(...)``): who may
call it, its query, body and response models (pydantic) and the refusals it can
answer. ``build`` walks the app's router, so a route without a description is
caught by a test rather than silently missing from the document.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema

from handlers.roles import RoleSet

# "public", any signed-in "resident", or one of the named role sets of ``handlers.roles``.
Auth = Literal["public", "resident"] | RoleSet
H = TypeVar("H", bound=Callable[..., Any])
ATTRIBUTE = "__linli_openapi__"
ID_SCHEMA: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": 999_999_999}
# Every refusal is this one shape; the message is in the caller's language.
STANDARD_ERRORS = {
    400: "Bad request: malformed JSON, paging, filter or field",
    401: "Not signed in, or the session expired or was revoked",
    403: "Signed in, but this role may not do it",
    404: "Not found, or not visible to the caller",
    409: "Conflicts with the current state (already done, changed meanwhile)",
    413: "Body too large",
    415: "The body is not application/json",
    422: "Well-formed but refused by a domain rule",
    429: "Too many requests: wait for Retry-After seconds",
    503: "The shared store or WeChat did not answer: try again after Retry-After seconds",
}


class ErrorBody(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. api.error.unauthorized")
    message: str = Field(description="The same refusal in the caller's language")


class Error(BaseModel):
    error: ErrorBody


@dataclass(frozen=True)
class Operation:
    summary: str
    tag: str
    auth: Auth = "resident"
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    also: tuple[int, ...] = ()
    errors: tuple[int, ...] = ()
    path: dict[str, dict[str, Any]] = field(default_factory=dict)
    content_type: str | tuple[str, ...] = "application/json"
    description: str = ""
    # The multipart field of an uploaded file; the handler reads that body itself.
    upload: str = ""

    @property
    def content_types(self) -> tuple[str, ...]:
        found = self.content_type
        return (found,) if isinstance(found, str) else found


def doc(
    summary: str,
    *,
    tag: str,
    auth: Auth = "resident",
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    also: Iterable[int] = (),
    errors: Iterable[int] = (),
    path: dict[str, dict[str, Any]] | None = None,
    content_type: str | tuple[str, ...] = "application/json",
    description: str = "",
    upload: str = "",
) -> Callable[[H], H]:
    """Describe an endpoint for the OpenAPI document (see the module docstring).

    ``also`` names further success statuses with the same body (201 beside 200, say);
    ``content_type`` may name several (a file as .xlsx or .csv); ``upload`` names the
    multipart field of a file the route takes (``multipart/form-data``, or the raw file).
    """
    operation = Operation(
        summary=summary,
        tag=tag,
        auth=auth,
        body=body,
        query=query,
        response=response,
        status=status,
        also=tuple(also),
        errors=tuple(errors),
        path=dict(path or {}),
        content_type=content_type,
        description=description,
        upload=upload,
    )

    def mark(handler: H) -> H:
        setattr(handler, ATTRIBUTE, operation)
        return handler

    return mark


def operation_of(handler: Any) -> Operation | None:
    return getattr(handler, ATTRIBUTE, None)


def api_routes(app: web.Application) -> list[tuple[str, str, Any]]:
    """(method, path template, handler) of every ``/api/`` route, HEAD left out."""
    found = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        if not path or not path.startswith("/api/") or route.method in {"HEAD", "*"}:
            continue
        found.append((route.method, path, route.handler))
    return found


def _path_params(path: str) -> list[str]:
    return re.findall(r"{(\w+)}", path)


def _query_parameters(model: type[BaseModel], schemas: dict[str, Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(schema.pop("$defs", {}))
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema.get("properties", {}).items():
        description = prop.pop("description", "")
        param: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": prop,
        }
        if description:
            param["description"] = description
        params.append(param)
    return params


def _operation_id(handler: Any) -> str:
    module = handler.__module__.removeprefix("handlers.").removesuffix(".api")
    return f"{module}.{handler.__name__}"


def _error_codes(operation: Operation, path_params: list[str]) -> list[int]:
    codes = set(operation.errors) | {429, 503}
    if operation.auth != "public":
        codes.add(401)
    if isinstance(operation.auth, RoleSet):
        codes.add(403)
    if path_params:
        codes.add(404)
    if operation.body is not None or operation.upload:
        codes |= {400, 413, 415}
    if operation.query is not None:
        codes.add(400)
    return sorted(codes)


def _schema_refs(app: web.Application) -> tuple[dict[tuple[type, str], str], dict[str, Any]]:
    """One components section for every model named by any operation."""
    models: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = [
        (Error, "serialization")
    ]
    for _, _, handler in api_routes(app):
        operation = operation_of(handler)
        if operation is None:
            continue
        if operation.body is not None:
            models.append((operation.body, "validation"))
        if operation.response is not None:
            models.append((operation.response, "serialization"))
    unique = list(dict.fromkeys(models))
    keys, definitions = models_json_schema(unique, ref_template="#/components/schemas/{model}")
    # Keyed by the class, not its name: two capabilities may both have a ``MeView``.
    refs: dict[tuple[type, str], str] = {
        (model, mode): value["$ref"] for (model, mode), value in keys.items()
    }
    return refs, definitions.get("$defs", {})


def _upload_body(name: str) -> dict[str, Any]:
    """A file as a multipart field, or as the whole body."""
    binary = {"type": "string", "format": "binary"}
    return {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "required": [name], "properties": {name: binary}}
            },
            "application/octet-stream": {"schema": binary},
        },
    }


def build(app: web.Application, *, title: str, version: str) -> dict[str, Any]:
    refs, schemas = _schema_refs(app)
    paths: dict[str, dict[str, Any]] = {}
    for method, path, handler in api_routes(app):
        operation = operation_of(handler)
        if operation is None:
            continue
        params = _path_params(path)
        entry: dict[str, Any] = {
            "operationId": _operation_id(handler),
            "summary": operation.summary,
            "tags": [operation.tag],
            "parameters": [
                {
                    "name": name,
                    "in": "path",
                    "required": True,
                    "schema": operation.path.get(name, ID_SCHEMA),
                }
                for name in params
            ],
            "responses": {},
        }
        if operation.description:
            entry["description"] = operation.description
        if isinstance(operation.auth, RoleSet):
            roles = ", ".join(sorted(r.value for r in operation.auth.roles))
            who = f"Only {operation.auth.description} ({operation.auth.name}: {roles})."
            entry["description"] = f"{who} {entry.get('description', '')}".strip()
            entry["x-roles"] = operation.auth.name
        if operation.query is not None:
            entry["parameters"] += _query_parameters(operation.query, schemas)
        if operation.body is not None:
            # A body whose fields are all optional may be left out: it is taken as ``{}``.
            required = any(f.is_required() for f in operation.body.model_fields.values())
            entry["requestBody"] = {
                "required": required,
                "content": {
                    "application/json": {"schema": {"$ref": refs[(operation.body, "validation")]}}
                },
            }
        if operation.upload:
            entry["requestBody"] = _upload_body(operation.upload)
        ok: dict[str, Any] = {"description": "OK"}
        types = operation.content_types
        if operation.response is not None:
            ref = refs[(operation.response, "serialization")]
            ok["content"] = {kind: {"schema": {"$ref": ref}} for kind in types}
        elif types != ("application/json",):
            ok["content"] = {kind: {"schema": {"type": "string"}} for kind in types}
        for success in (operation.status, *operation.also):
            entry["responses"][str(success)] = ok
        error_ref = {"$ref": refs[(Error, "serialization")]}
        for code in _error_codes(operation, params):
            response: dict[str, Any] = {
                "description": STANDARD_ERRORS.get(code, "Refused"),
                "content": {"application/json": {"schema": error_ref}},
            }
            if code in {429, 503}:
                response["headers"] = {
                    "Retry-After": {"schema": {"type": "integer"}, "required": True}
                }
            entry["responses"][str(code)] = response
        if operation.auth != "public":
            entry["security"] = [{"bearer": []}]
        paths.setdefault(path, {})[method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": (
                'Errors are always {"error": {"code", "message"}} with the message in '
                "the caller's language (Accept-Language or the resident's choice). Lists "
                "take page and per_page (1 to 100) and answer {items, page, per_page, total}."
            ),
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def absent_when_none(schema: dict[str, Any]) -> None:
    """``json_schema_extra`` for a query parameter that is left out rather than sent as null."""
    schema.pop("default", None)
    kept = [s for s in schema.pop("anyOf", []) if s != {"type": "null"}]
    if len(kept) == 1:
        schema.update(kept[0])
    elif kept:
        schema["anyOf"] = kept


class Page(BaseModel):
    """The paging envelope; each list endpoint names its own item model."""

    page: int = Field(ge=1)
    per_page: int = Field(ge=1, le=100)
    total: int = Field(ge=0)


class Paging(BaseModel):
    # Far past any real list; the bound keeps OFFSET inside the database's integer range.
    page: int = Field(default=1, ge=1, le=100_000, description="Page number, from 1")
    per_page: int = Field(default=20, ge=1, le=100, description="Items per page, 1 to 100")


class Done(BaseModel):
    ok: bool = True


OPENAPI_PATH = "/api/v1/openapi.json"


@doc("This OpenAPI document", tag="meta", auth="public")
async def openapi_document(request: web.Request) -> web.Response:
    cache = request.app[SPEC_CACHE]
    if "spec" not in cache:
        cache["spec"] = build(request.app, title="Linli 邻里 API", version="1")
    return web.json_response(cache["spec"])


# Filled on first request: the router is frozen by then.
SPEC_CACHE = web.AppKey("linli_openapi", dict)


def add_routes(app: web.Application) -> None:
    app[SPEC_CACHE] = {}
    app.router.add_get(OPENAPI_PATH, openapi_document)
