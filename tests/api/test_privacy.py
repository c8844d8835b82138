"""A resident reading everything the API lets them read never sees a neighbour's personal data.

The seed gives one resident a name, a phone and an openid and has them propose,
complain (once anonymously), vote and volunteer; a neighbour then calls every GET
route of the document with the first ids of every kind.
"""

from __future__ import annotations

import itertools

from handlers.openapi import api_routes, operation_of
from handlers.sessions import issue
from models.db import using
from tests.api.seed import seed

PHONE = "13912345678"
NAME = "隐私测试人"


def _paths(path: str, operation, ids: range) -> list[str]:  # type: ignore[no-untyped-def]
    names = [n.strip("{}") for n in path.split("/") if n.startswith("{")]
    choices = []
    for name in names:
        schema = (operation.path or {}).get(name)
        choices.append(
            [str(v) for v in schema["enum"]]
            if schema and "enum" in schema
            else [str(i) for i in ids]
        )
    made = []
    for values in itertools.product(*choices):
        concrete = path
        for name, value in zip(names, values, strict=True):
            concrete = concrete.replace("{" + name + "}", value)
        made.append(concrete)
    return made


async def test_a_neighbour_never_reads_personal_data(client, world):
    with using(world.app_state.db):
        people = await seed(world)
        person = people["resident"]
        person.name, person.phone = NAME, PHONE
        await person.save()
        token = await issue(world.app_state.store, people["neighbour"].id)
    headers = {"Authorization": f"Bearer {token}"}
    secrets = {PHONE, NAME, person.openid}
    seen = 0
    for method, path, handler in api_routes(client.server.app):
        operation = operation_of(handler)
        if method != "GET" or operation is None or operation.auth == "worker":
            continue
        for concrete in _paths(path, operation, range(1, 4)):
            resp = await client.get(concrete, headers=headers)
            # A PDF's text is compressed: the exports' own tests read it with pdftotext.
            text = (await resp.read()).decode("utf-8", errors="replace")
            seen += resp.status == 200
            leaked = [s for s in secrets if s and s in text]
            assert not leaked, f"{concrete} shows {leaked}"
    assert seen > 10  # the neighbour did read real rows
