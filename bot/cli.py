"""``linli``: serve, chat (a terminal WeChat), seed-demo, issue-code, migrate, backup, restore,
import-households and export-households (the register, 台账), verify-vote, verify-round."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import ipaddress
import json
import logging
import os
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import aiohttp
from aiohttp import web

from bot import heap
from bot.access_log import PathOnlyAccessLogger
from bot.app import SHUTDOWN_TIMEOUT_SECONDS, create_app
from bot.loop import new_event_loop
from bot.simulator import WeChatServer, message_xml, push, reply_text
from bot.workers import serve_workers
from config.settings import DEV_TOKEN, Settings, load_settings
from models.db import database, migrate

log = logging.getLogger(__name__)


def _local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_tokens(settings: Settings, host: str) -> None:
    """The demo token is public: with it anyone signs pushes as WeChat. Refuse to serve with
    it (or none) outside the embedded demo on this machine; there, say so loudly."""
    weak = sorted(
        name
        for name, account in settings.all_accounts().items()
        if account.token in ("", DEV_TOKEN)
    )
    if not weak:
        return
    message = (
        f"WeChat account(s) {', '.join(weak)} use the public demo token or none, so anyone can"
        " sign pushes as WeChat. Set LINLI_WECHAT_TOKEN (and each [accounts.x] token) to the"
        " token saved in the official account's console."
    )
    embedded = not settings.database_url and not settings.redis_url
    if not (embedded and _local(host)):
        raise SystemExit(f"linli: refusing to start. {message}")
    print(f"WARNING: {message} Fine for the embedded demo on this machine only.", file=sys.stderr)
    log.warning("%s Fine for the embedded demo on this machine only.", message)


def _serve(settings: Settings, host: str, port: int) -> int:
    _check_tokens(settings, host)
    store = "Redis" if settings.redis_url else "in-process store"
    workers = f", {settings.workers} workers" if settings.workers > 1 else ""
    print(
        f"Linli on http://{host}:{port}{settings.callback_path}  "
        f"(database: {settings.effective_database_url().split('://')[0]}, {store}{workers})"
    )
    print(f"Talk to it:  linli chat --url http://{host}:{port}{settings.callback_path}")
    if settings.workers > 1:
        return serve_workers(settings, host, port, serve_one)
    serve_one(settings, host, port)
    return 0


def serve_one(settings: Settings, host: str, port: int, access_log: bool = True) -> None:
    """One serving process; with several workers each binds the port with SO_REUSEPORT.

    The benches serve through it too (``access_log=False``), so they measure what runs."""
    app = create_app(settings)
    heap.settle_after_start(app)
    web.run_app(
        app,
        host=host,
        port=port,
        print=None,
        access_log_class=PathOnlyAccessLogger,
        access_log=logging.getLogger("aiohttp.access") if access_log else None,
        shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS,  # the stop stays inside Docker's 10 s
        reuse_port=settings.workers > 1,
        loop=new_event_loop(settings),
    )


HELP = """Type a message and press Enter. Also:
  /subscribe [scene]   follow the account (optionally by scanning a QR scene)
  /unsubscribe         unfollow
  /scan SCENE          scan a parametric QR code while following
  /click KEY           click a custom-menu item
  /voice TEXT          a voice message WeChat recognised as TEXT
  /image               send a photo
  /location LAT LON    share a location
  /quit                leave"""


def _command_xml(line: str, openid: str, appid: str) -> str | None:
    words = line.split()
    head, rest = words[0], words[1:]
    if head == "/subscribe":
        key = {"EventKey": f"qrscene_{rest[0]}"} if rest else {}
        return message_xml(openid, appid, "event", {"Event": "subscribe", **key})
    if head == "/unsubscribe":
        return message_xml(openid, appid, "event", {"Event": "unsubscribe"})
    if head == "/scan" and rest:
        return message_xml(openid, appid, "event", {"Event": "SCAN", "EventKey": rest[0]})
    if head == "/click" and rest:
        return message_xml(openid, appid, "event", {"Event": "CLICK", "EventKey": rest[0]})
    if head == "/voice":
        return message_xml(
            openid,
            appid,
            "voice",
            {"MediaId": "m1", "Format": "amr", "Recognition": " ".join(rest)},
        )
    if head == "/image":
        return message_xml(
            openid, appid, "image", {"PicUrl": "http://example.invalid/p.jpg", "MediaId": "m2"}
        )
    if head == "/location" and len(rest) == 2:
        return message_xml(
            openid,
            appid,
            "location",
            {"Location_X": rest[0], "Location_Y": rest[1], "Scale": "15", "Label": ""},
        )
    return None


async def _chat(settings: Settings, url: str, openid: str) -> None:
    server = WeChatServer(settings.wechat_token, settings.wechat_appid, settings.wechat_aes_key)
    print(f"Talking to {url} as {openid} ({server.mode} mode). /help for commands.")
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                line = (await loop.run_in_executor(None, input, "> ")).strip()
            except (EOFError, KeyboardInterrupt):
                return
            if not line:
                continue
            if line in ("/quit", "/exit"):
                return
            if line == "/help":
                print(HELP)
                continue
            xml = (
                _command_xml(line, openid, settings.wechat_appid)
                if line.startswith("/")
                else message_xml(openid, settings.wechat_appid, "text", {"Content": line})
            )
            if xml is None:
                print(HELP)
                continue
            try:
                status, body = await push(session, url, server, xml)
            except aiohttp.ClientError as exc:
                print(f"[cannot reach {url}: {exc}]")
                continue
            if status != 200:
                print(f"[HTTP {status}: {body}]")
            else:
                print(reply_text(body) or "[success: no reply]")


async def _seed_demo(settings: Settings) -> None:
    from handlers.residents.service import issue_code
    from models.community import Building, Community, Grid, Household

    async with database(settings.effective_database_url(), settings.auto_migrate):
        slug = settings.wechat_community
        community, _ = await Community.get_or_create(slug=slug, defaults={"name": "幸福里社区"})
        now = datetime.now(UTC)
        print(f"community {community.slug} ({community.name}); binding codes:")
        for g, buildings in (("第一网格", ("1栋", "2栋")), ("第二网格", ("3栋",))):
            grid, _ = await Grid.get_or_create(community=community, name=g)
            for name in buildings:
                building, _ = await Building.get_or_create(
                    community=community, name=name, defaults={"grid": grid}
                )
                for unit in ("1单元", "2单元"):
                    for room in ("101", "102", "201", "202"):
                        household, _ = await Household.get_or_create(
                            building=building, unit=unit, room=room
                        )
                        code = await issue_code(household, now, settings.binding_code_days)
                        print(f"  {g} {name} {unit} {room}: {code}")


def _read_password() -> str:
    """From LINLI_PASSWORD (scripts) or typed twice at a prompt, never from argv."""
    given = os.environ.get("LINLI_PASSWORD")
    if given:
        return given
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise SystemExit("the two passwords differ")
    return first


async def _add_worker(
    settings: Settings, login: str, name: str | None, role: str, resident_id: int | None
) -> int:
    """A console login for a worker: a new person, or an existing resident (``--resident``)."""
    from handlers.residents import accounts, service
    from models.accounts import ConsoleLogin
    from models.residents import Resident, Role

    password = _read_password()
    if len(password) < accounts.MIN_PASSWORD:
        print(f"a password needs at least {accounts.MIN_PASSWORD} characters", file=sys.stderr)
        return 1
    async with database(settings.effective_database_url(), settings.auto_migrate):
        if await ConsoleLogin.filter(login=login).exists():
            print(f"login {login} is taken", file=sys.stderr)
            return 1
        if resident_id is None:
            community = await service.community_id(settings.wechat_community)
            person = await Resident.create(
                community_id=community, name=name, language=settings.default_language
            )
        else:
            found = await Resident.get_or_none(id=resident_id, erased_at=None)
            if found is None:
                print(f"no resident {resident_id}", file=sys.stderr)
                return 1
            person = found
        await service.grant(person, Role(role), by="cli")
        try:
            await accounts.set_password(person, login, password, by="cli")
        except accounts.SignInRefused as refused:
            print(refused.code, file=sys.stderr)
            return 1
    print(f"worker {login} is resident {person.id} ({role})")
    return 0


async def _issue_code(settings: Settings, building: str, unit: str, room: str) -> int:
    from handlers.residents.service import issue_code
    from models.community import Household

    async with database(settings.effective_database_url(), settings.auto_migrate):
        household = await Household.get_or_none(
            building__name=building,
            building__community__slug=settings.wechat_community,
            unit=unit,
            room=room,
        )
        if household is None:
            print("no such household", file=sys.stderr)
            return 1
        print(await issue_code(household, datetime.now(UTC), settings.binding_code_days))
        return 0


def _texts(text: str | None, jsonl: str | None) -> list[str]:
    if text is not None:
        return [text]
    texts = []
    with open(jsonl or "", encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                texts.append(str(json.loads(line)["text"]))
            except (ValueError, KeyError, TypeError):
                raise SystemExit(f"line {number}: not a JSON object with a text field") from None
    return texts


async def _route(settings: Settings, texts: list[str]) -> int:
    """The service's own routing (with the latest trained weights), one JSON line per text."""
    from handlers.complaints import service as complaints

    async with database(settings.effective_database_url(), settings.auto_migrate):
        await complaints.load_router()
        for text in texts:
            print(json.dumps(complaints.route(text).as_dict(), ensure_ascii=False))
    return 0


async def _retrain(settings: Settings) -> int:
    from handlers.complaints import service as complaints

    async with database(settings.effective_database_url(), settings.auto_migrate):
        used = await complaints.retrain()
    print(f"router retrained from {used} corrections")
    return 0


def _train_router(corpus: str | None, out: str | None) -> int:
    """The shipped model, from the corpus: run after editing the corpus or the keywords."""
    from handlers.complaints import routing, training

    items = training.load_corpus(Path(corpus) if corpus else routing.CORPUS_DIR)
    if not items:
        print("no labelled items in the corpus", file=sys.stderr)
        return 1
    model = training.train_router(routing.Router.from_config(), items)
    target = Path(out) if out else routing.MODEL_FILE
    training.save_model(model, target)
    print(f"trained on {len(items)} items, {len(model.index)} features → {target}")
    return 0


async def _link_wecom(settings: Settings, userid: str, resident_id: int) -> int:
    """What a worker's messages to the WeCom application may do follows the resident's roles."""
    from models.notices import WeComUser
    from models.residents import Resident

    if not settings.wecom_corp_id:
        print("set LINLI_WECOM_CORP_ID first", file=sys.stderr)
        return 1
    async with database(settings.effective_database_url(), settings.auto_migrate):
        if not await Resident.filter(id=resident_id, erased_at=None).exists():
            print(f"no resident {resident_id}", file=sys.stderr)
            return 1
        link, created = await WeComUser.get_or_create(
            corp_id=settings.wecom_corp_id, userid=userid, defaults={"resident_id": resident_id}
        )
        if not created:
            link.resident_id = resident_id
            await link.save(update_fields=["resident_id"])
    print(f"WeCom user linked to resident {resident_id}")
    return 0


async def _backup(settings: Settings, out: str | None) -> int:
    from bot import backup

    archive = backup.archive_path(out)
    try:
        manifest = await backup.backup(
            settings.effective_database_url(), settings.data_dir, archive
        )
    except backup.BackupError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"{archive}: {sum(manifest['rows'].values())} rows, {len(manifest['files'])} files")
    return 0


async def _restore(settings: Settings, archive: str, force: bool) -> int:
    """Restore into the configured database: stop the service first."""
    from pathlib import Path

    from bot import backup

    try:
        done = await backup.restore(
            Path(archive), settings.effective_database_url(), settings.data_dir, force
        )
    except backup.BackupError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"restored {sum(done.rows.values())} rows ({done.engine}) and {done.files} files")
    return 0


async def _verify_vote(settings: Settings, proposal_id: int) -> int:
    """Exit 0 when every answer's chain holds, the votes counted are the chains' last
    answers, and the digest is the one stored (and printed on the poster)."""
    from handlers.canvass.verify import verify_vote

    async with database(settings.effective_database_url(), settings.auto_migrate):
        checked = await verify_vote(proposal_id)
    if checked is None:
        print(f"no proposal {proposal_id}", file=sys.stderr)
        return 2
    print(f"digest    {checked.digest}")
    print(f"published {checked.stored or '-'}")
    for entry in checked.broken:
        print(f"broken audit entry {entry}")
    for elector in checked.mismatched:
        print(f"vote of {elector} differs from its last recorded answer")
    print("OK" if checked.ok else "MISMATCH")
    return 0 if checked.ok else 1


async def _verify_round(settings: Settings, round_id: int) -> int:
    """Exit 0 when every order's chain holds, the orders counted are the chains' last, and
    the digest is the one stored with the round's result (and printed on its poster)."""
    from handlers.budget.verify import verify_round

    async with database(settings.effective_database_url(), settings.auto_migrate):
        checked = await verify_round(round_id)
    if checked is None:
        print(f"no round {round_id}", file=sys.stderr)
        return 2
    print(f"digest    {checked.digest}")
    print(f"published {checked.stored or '-'}")
    for entry in checked.broken:
        print(f"broken audit entry {entry}")
    for household in checked.mismatched:
        print(f"order of household {household} differs from its last recorded order")
    print("OK" if checked.ok else "MISMATCH")
    return 0 if checked.ok else 1


async def _import_households(settings: Settings, path: str, slug: str, apply: bool) -> int:
    """The register (台账) from a spreadsheet: the report, row by row; written with --apply."""
    from pathlib import Path

    from handlers.households import report, service
    from handlers.i18n import FALLBACK, default_translator
    from handlers.refusal import Refused

    translate = default_translator()
    try:
        data = await asyncio.to_thread(Path(path).read_bytes)
    except OSError as error:
        print(f"cannot read {path}: {error.strerror}", file=sys.stderr)
        return 1
    async with database(settings.effective_database_url(), settings.auto_migrate):
        try:
            community = await service.community_of(slug)
            if apply:
                plan = await service.apply_import(None, community, data, path)
            else:
                plan = await service.plan_import(community, data, path)
        except service.NotApplied as refused:
            plan = refused.plan
        except Refused as refused:
            print(translate(FALLBACK, refused.code, **refused.params), file=sys.stderr)
            return 1
    for line in report.lines(plan, translate, FALLBACK):
        print(line)
    return 1 if plan.refused else 0


async def _export_households(settings: Settings, path: str, slug: str) -> int:
    """The register as .xlsx or .csv, by the file's extension."""
    from pathlib import Path

    from handlers.households import service
    from handlers.i18n import FALLBACK, default_translator
    from handlers.refusal import Refused

    fmt: Literal["xlsx", "csv"] = "csv" if path.lower().endswith(".csv") else "xlsx"
    async with database(settings.effective_database_url(), settings.auto_migrate):
        try:
            data = await service.export_register(await service.community_of(slug), fmt)
        except Refused as refused:
            print(default_translator()(FALLBACK, refused.code, **refused.params), file=sys.stderr)
            return 1
    await asyncio.to_thread(Path(path).write_bytes, data)
    print(f"{path}: {len(data)} bytes")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="linli", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="run the service")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument(
        "--workers", type=int, help="processes sharing the port (needs PostgreSQL and Redis)"
    )
    chat = sub.add_parser("chat", help="talk to a running service as WeChat would")
    chat.add_argument("--url")
    chat.add_argument("--openid", default=f"o_sim_{secrets.token_hex(4)}")
    sub.add_parser("seed-demo", help="create a demo community with households and codes")
    code = sub.add_parser("issue-code", help="a new binding code for one household")
    code.add_argument("building")
    code.add_argument("unit")
    code.add_argument("room")
    sub.add_parser("migrate", help="apply database migrations")
    route = sub.add_parser("route", help="route complaint text to a department, as JSON")
    route.add_argument("text", nargs="?", help="one complaint")
    route.add_argument("--jsonl", help="a JSONL file with a text field per line")
    sub.add_parser("retrain-router", help="retrain complaint routing from workers' corrections")
    train = sub.add_parser(
        "train-router", help="train the shipped routing model on the corpus (config/)"
    )
    train.add_argument("--corpus", help="a folder of .jsonl files (default: the shipped corpus)")
    train.add_argument("--out", help="where to write the model (default: the shipped file)")
    worker = sub.add_parser(
        "add-worker", help="a console login for a community worker (password from a prompt)"
    )
    worker.add_argument("login")
    worker.add_argument("--name")
    worker.add_argument(
        "--role", default="community_worker", choices=["community_worker", "grid_worker", "admin"]
    )
    worker.add_argument("--resident", type=int, help="an existing resident instead of a new one")
    backup = sub.add_parser(
        "backup", help="write the database, the spool and media to one tar.gz archive"
    )
    backup.add_argument("--out", help="the archive, or a directory for a dated one (default: .)")
    restore = sub.add_parser(
        "restore", help="restore an archive of `linli backup` into an empty database"
    )
    restore.add_argument("archive")
    restore.add_argument("--force", action="store_true", help="replace a database holding data")
    link = sub.add_parser("link-wecom", help="let a WeCom userid broadcast as a worker")
    link.add_argument("userid", help="the worker's WeCom userid (FromUserName)")
    link.add_argument("resident", type=int, help="the worker's resident id")
    households = sub.add_parser(
        "import-households", help="check (or with --apply, import) the register from .xlsx/.csv"
    )
    households.add_argument("file")
    households.add_argument("--community", required=True, help="the community's slug")
    households.add_argument("--apply", action="store_true", help="write it (all rows or none)")
    register = sub.add_parser("export-households", help="the register as .xlsx or .csv")
    register.add_argument("file", help="where to write it; .csv for CSV, else .xlsx")
    register.add_argument("--community", required=True, help="the community's slug")
    verify = sub.add_parser(
        "verify-vote", help="recompute a closed vote's digest (the poster's) from the database"
    )
    verify.add_argument("proposal", type=int, help="the proposal's number")
    verify_round = sub.add_parser(
        "verify-round",
        help="recompute a 民生微实事 round's digest (its poster's) from the database",
    )
    verify_round.add_argument("round", type=int, help="the round's number")
    args = parser.parse_args(argv)
    settings = load_settings()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("tortoise", "aiosqlite", "asyncpg"):
        # They log SQL parameters (openids, phones) at DEBUG: never let that through.
        logging.getLogger(noisy).setLevel(max(logging.INFO, logging.getLogger().level))
    command = args.command or "serve"
    if command == "serve":
        if getattr(args, "workers", None) is not None:
            if args.workers < 1:
                parser.error("--workers must be at least 1")
            settings = settings.model_copy(update={"workers": args.workers})
        return _serve(
            settings,
            getattr(args, "host", None) or settings.host,
            getattr(args, "port", None) or settings.port,
        )
    elif command == "chat":
        url = args.url or f"http://{settings.host}:{settings.port}{settings.callback_path}"
        asyncio.run(_chat(settings, url, args.openid))
    elif command == "seed-demo":
        asyncio.run(_seed_demo(settings))
    elif command == "issue-code":
        return asyncio.run(_issue_code(settings, args.building, args.unit, args.room))
    elif command == "route":
        if bool(args.text) == bool(args.jsonl):
            parser.error("route takes either a text or --jsonl FILE")
        return asyncio.run(_route(settings, _texts(args.text, args.jsonl)))
    elif command == "retrain-router":
        return asyncio.run(_retrain(settings))
    elif command == "train-router":
        return _train_router(args.corpus, args.out)
    elif command == "add-worker":
        return asyncio.run(_add_worker(settings, args.login, args.name, args.role, args.resident))
    elif command == "backup":
        return asyncio.run(_backup(settings, args.out))
    elif command == "restore":
        return asyncio.run(_restore(settings, args.archive, args.force))
    elif command == "link-wecom":
        return asyncio.run(_link_wecom(settings, args.userid, args.resident))
    elif command == "import-households":
        return asyncio.run(_import_households(settings, args.file, args.community, args.apply))
    elif command == "export-households":
        return asyncio.run(_export_households(settings, args.file, args.community))
    elif command == "verify-vote":
        return asyncio.run(_verify_vote(settings, args.proposal))
    elif command == "verify-round":
        return asyncio.run(_verify_round(settings, args.round))
    elif command == "migrate":
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        asyncio.run(migrate(settings.effective_database_url()))
    return 0
