"""The aiohttp application factory and its lifecycle."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Awaitable
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp import web

from bot.callback import Callback
from bot.capabilities import audiences as notification_audiences
from bot.capabilities import capabilities
from bot.capabilities import texts as notification_texts
from bot.console import add_routes as add_console_routes
from bot.deliver import deliver_notices
from bot.deliver_groups import deliver_groups
from bot.dispatcher import Dispatcher, prune_ledger
from bot.followers import link_followers
from bot.late import owe_reply
from bot.once import Once
from bot.owed import deliver_owed
from bot.push import GroupRobot, OfficialAccountClient
from bot.push.miniprogram import MiniProgramClient
from bot.push.wecom_customer import CustomerGroupClient
from bot.spool import Spool
from bot.state import APP_STATE, AppState, opened
from bot.store import MemoryStore, RedisStore, open_store
from bot.wecom import add_routes as add_wecom_routes
from config.settings import DEFAULT_ACCOUNT, Settings
from handlers.api import API_DEPS, ApiDeps, api_errors
from handlers.capability import Job, JobContext
from handlers.i18n import default_translator
from handlers.media.store import MEDIA_STORE
from handlers.media.store import open_store as open_media_store
from handlers.openapi import add_routes as add_openapi_routes
from handlers.ratelimit import Limits
from handlers.residents.accounts import LOGIN_QR_SECONDS
from handlers.router import Router
from handlers.types import Event
from models.community import Community
from models.db import close_database, open_database, using

log = logging.getLogger(__name__)

# Docker sends SIGKILL 10 s after SIGTERM. A request in flight gets SHUTDOWN_TIMEOUT_SECONDS
# (``web.run_app``) to finish and as long again to unwind once cancelled (aiohttp waits
# twice), then each of the five cleanup steps at most CLEANUP_STEP_SECONDS: a stalled
# database or store cannot hold the stop past STOP_BUDGET_SECONDS.
SHUTDOWN_TIMEOUT_SECONDS = 2.0
CLEANUP_STEP_SECONDS = 0.8
CLEANUP_STEPS = 5
STOP_BUDGET_SECONDS = 2 * SHUTDOWN_TIMEOUT_SECONDS + CLEANUP_STEPS * CLEANUP_STEP_SECONDS
# How long /readyz waits for the database and for the store, each.
READY_DEADLINE_SECONDS = 2.0


async def bounded(what: str, awaitable: Awaitable[Any]) -> None:
    """Wait at most CLEANUP_STEP_SECONDS for one step of the stop, then leave it behind."""
    task = asyncio.ensure_future(awaitable)
    done, _ = await asyncio.wait({task}, timeout=CLEANUP_STEP_SECONDS)
    if not done:
        task.cancel()
        log.warning("stopping: %s took over %.1f s, left behind", what, CLEANUP_STEP_SECONDS)
    elif not task.cancelled() and task.exception() is not None:
        log.warning("stopping: %s failed (%s)", what, type(task.exception()).__name__)


async def stopped(what: str, task: asyncio.Task[Any]) -> None:
    """Cancel a background task and wait for it, within the step's bound."""
    task.cancel()
    await bounded(what, task)


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[APP_STATE].settings
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    state = app[APP_STATE]
    state.db = await open_database(settings.effective_database_url(), settings.auto_migrate)
    try:
        yield
    finally:
        await bounded("closing the database", close_database(state.db))


@web.middleware
async def _in_database(request: web.Request, handler: Any) -> web.StreamResponse:
    """Run every request, and the tasks it starts, in the service's own database context."""
    with using(opened(request.app[APP_STATE].db, "the database")):
        return await handler(request)


def _limits(settings: Settings) -> Limits:
    return Limits(
        per_session=settings.api_rate_per_session,
        per_resident=settings.api_rate_per_resident,
        per_address=settings.api_rate_per_address,
        sign_in_per_address=settings.api_sign_in_rate_per_address,
        trust_forwarded_for=settings.trust_forwarded_for,
        trusted_proxies=tuple(settings.trusted_proxies),
        qr_polls_per_ticket=settings.api_qr_polls_per_ticket,
    )


async def _store(app: web.Application) -> AsyncIterator[None]:
    state = app[APP_STATE]
    if state.store is None:
        state.store = open_store(state.settings.redis_url, state.settings.store_timeout_seconds)
    state.dispatcher = Dispatcher(
        state.settings, state.store, state.translate, state.router, clock=lambda: state.clock()
    )
    state.once = Once(
        state.store, state.settings.dedup_ttl_seconds, state.settings.message_lease_seconds
    )
    app[API_DEPS] = ApiDeps(
        store=state.store,
        translate=state.translate,
        lock=state.store.lock,
        needs_approval=state.settings.notices_need_approval,
        limits=_limits(state.settings),
        session_seconds=state.settings.session_hours * 3600,
        binding_failures=state.settings.binding_failures_per_10min,
        binding_code_days=state.settings.binding_code_days,
        miniprogram_appid=state.settings.miniprogram_appid,
        miniprogram_community=state.settings.miniprogram_community,
        default_language=state.settings.default_language,
        now=lambda: state.clock(),  # read each time: a test may freeze it
    )
    try:
        yield
    finally:
        await bounded("late replies", state.once.drain(CLEANUP_STEP_SECONDS))
        await bounded("closing the store", state.store.close())


async def replay_one(state: AppState, key: str, event: Event) -> None:
    """Handle a spooled message (the ledger makes it take effect once), then send its
    answer as a late reply (once per message too: the reply is owed under its key)."""
    reply = await opened(state.dispatcher, "the dispatcher").dispatch(event, key)
    if reply.text:
        await owe_reply(event.account, event.openid, reply.text, "recovered", key=key)


async def _recovered(state: AppState) -> bool:
    """Both the database and the store answer: replaying before would only fail."""
    database_ok, store_ok = await asyncio.gather(
        _answers("the database", _database_answers(state)),
        _answers("the store", opened(state.store, "the store").ping()),
    )
    return database_ok and store_ok


async def _spool(app: web.Application) -> AsyncIterator[None]:
    state = app[APP_STATE]
    # Named by the host that writes it; replayed by every process (``bot.spool``).
    # One spool file per process: workers of one host share the directory, not a file.
    name = socket.gethostname()
    if state.settings.workers > 1:
        name += f"-w{state.settings.worker_index}"
    spool = state.spool = Spool(state.settings.data_dir / "spool", name)

    async def replay_forever() -> None:
        with using(opened(state.db, "the database")):
            await replay_loop()

    async def replay_loop() -> None:
        while True:
            await asyncio.sleep(state.settings.spool_replay_seconds)
            try:
                if not spool.files() or not await _recovered(state):
                    continue
                done = await spool.replay(lambda k, e: replay_one(state, k, e))
                if done:
                    log.info("replayed %d spooled messages", done)
            except Exception:
                log.exception("spool replay failed")

    task = asyncio.create_task(replay_forever())
    try:
        yield
    finally:
        await stopped("the spool replay", task)


def job_round(state: AppState) -> list[Job]:
    """Every capability's jobs in list order, then the transport's own sending."""
    jobs = [job for c in capabilities() for job in c.jobs]
    return [
        *jobs,
        Job("owed replies", lambda job: deliver_owed(state.push_clients, job.now)),
        Job("follower unionids", lambda job: follower_unionids(state, job.now)),
        Job("notice deliveries", lambda job: send_notices(state, job.now)),
        Job("customer group notices", lambda job: send_customer_groups(state, job.now)),
        Job("handled-message ledger", lambda job: prune_ledger(job.now)),
    ]


async def follower_unionids(state: AppState, now: datetime) -> Any:
    """Recent followers' unionids, so the mini-program and the account share one resident."""
    return await link_followers(
        state.push_clients,
        state.settings.all_accounts(),
        state.store,
        now,
        lock_seconds=state.settings.resident_lock_seconds,
    )


def job_context(state: AppState, now: datetime | None = None) -> JobContext:
    """What the round's jobs share: its instant (the app's clock unless given), the lock,
    the catalogs and every capability's notification texts and audiences."""
    return JobContext(
        now=now or state.clock(),
        lock=state.store.lock,
        translate=state.translate,
        texts=notification_texts(),
        audiences=notification_audiences(),
    )


async def run_jobs(state: AppState) -> None:
    """One round of periodic work; each job is idempotent and safe on several processes."""
    context = job_context(state)
    for job in job_round(state):
        try:
            await job.run(context)
        except Exception:
            log.exception("%s failed", job.name)


async def notice_clients(state: AppState) -> dict[int, OfficialAccountClient]:
    """The push clients by the id of the community their account serves."""
    accounts = state.settings.all_accounts()
    slugs = {accounts[name].community: client for name, client in state.push_clients.items()}
    rows = await Community.filter(slug__in=list(slugs)).values_list("id", "slug")
    return {community_id: slugs[slug] for community_id, slug in rows}


def robots_factory(state: AppState) -> Any:
    """A ``GroupRobot`` per webhook key, on the push session and the shared store."""

    def make(key: str) -> GroupRobot:
        assert state.push_session is not None
        return GroupRobot(
            state.push_session, state.store, key, base_url=state.settings.wecom_api_base
        )

    return make


async def send_notices(state: AppState, now: datetime) -> Any:
    """Send the notices' deliveries that are due (``bot.deliver``)."""
    if state.push_session is None:
        return None
    return await deliver_notices(
        await notice_clients(state),
        robots_factory(state),
        now,
        rate_per_second=state.settings.notices_rate_per_second,
        templates=state.settings.notice_templates,
    )


def customer_group_client(state: AppState) -> CustomerGroupClient | None:
    """The customer-contact application's client, where its secret is configured."""
    settings = state.settings
    if state.push_session is None or not (
        settings.wecom_corp_id and settings.wecom_customer_secret
    ):
        return None
    return CustomerGroupClient.for_corp(
        state.push_session,
        state.store,
        settings.wecom_corp_id,
        settings.wecom_customer_secret,
        base_url=settings.wecom_api_base,
    )


async def send_customer_groups(state: AppState, now: datetime) -> Any:
    """Submit and follow the notices' mass-sending tasks to customer groups."""
    if state.push_session is None:
        return None
    return await deliver_groups(customer_group_client(state), now)


async def _push(app: web.Application) -> AsyncIterator[None]:
    """One HTTP session for the push clients of every account that has its app secret."""
    state = app[APP_STATE]
    async with aiohttp.ClientSession() as session:
        state.push_session = session
        state.media = app[MEDIA_STORE] = open_media_store(state.settings, session)
        state.push_clients = {
            name: OfficialAccountClient.for_account(
                session, state.store, account, base_url=state.settings.wechat_api_base
            )
            for name, account in state.settings.all_accounts().items()
            if account.appid and account.appsecret
        }
        wire_sign_in(app[API_DEPS], state, session)
        yield
        state.push_clients = {}
        state.push_session = None


def wire_sign_in(api: ApiDeps, state: AppState, session: aiohttp.ClientSession) -> None:
    """Give the sign-in endpoints their WeChat calls, where the secrets are configured."""
    settings = state.settings
    if settings.miniprogram_appid and settings.miniprogram_secret:
        client = MiniProgramClient(
            session,
            settings.miniprogram_appid,
            settings.miniprogram_secret,
            base_url=settings.wechat_api_base,
            store=state.store,
        )
        api.code2session = client.code2session
        api.phone_number = client.phone_number
    official = state.push_clients.get(DEFAULT_ACCOUNT)
    if official is not None:

        async def login_qr(scene: str) -> tuple[str, int]:
            return await official.create_qr(scene, LOGIN_QR_SECONDS)

        api.login_qr = login_qr


async def _jobs(app: web.Application) -> AsyncIterator[None]:
    """Periodic work every process runs: each job is safe to run on several at once."""
    state = app[APP_STATE]

    async def run_jobs_forever() -> None:
        with using(opened(state.db, "the database")):
            while True:
                await asyncio.sleep(state.settings.jobs_interval_seconds)
                await run_jobs(state)

    # Each capability's start-up work (jieba's dictionary, the router's weights) before
    # the first resident waits for it. Here, not in the task: a stop right after start
    # would cancel it mid-query, and aiosqlite's thread would then answer into a loop
    # that has closed.
    with using(opened(state.db, "the database")):
        for capability in capabilities():
            for start in capability.start:
                await start()
    if not state.settings.jobs_in_process:
        yield  # an arq worker runs the jobs (bot/worker.py)
        return
    task = asyncio.create_task(run_jobs_forever())
    try:
        yield
    finally:
        await stopped("the periodic jobs", task)


async def health(request: web.Request) -> web.Response:
    """Liveness: the process answers. Restarting it would not bring a database back."""
    return web.json_response({"ok": True})


async def _answers(what: str, check: Awaitable[Any]) -> bool:
    """Whether ``check`` finished within the deadline; why not stays out of the answer."""
    try:
        return bool(await asyncio.wait_for(check, READY_DEADLINE_SECONDS))
    except Exception as exc:  # a timeout, a refused connection: the reason may name the DSN
        log.warning("not ready: %s did not answer (%s)", what, type(exc).__name__)
        return False


async def _database_answers(state: AppState) -> bool:
    await opened(state.db, "the database").db().execute_query("SELECT 1")
    return True


def _spool_writable(state: AppState) -> bool:
    spool = opened(state.spool, "the spool")
    spool.directory.mkdir(parents=True, exist_ok=True)
    probe = spool.directory / f".probe-{os.getpid()}"
    probe.write_bytes(b"")
    probe.unlink()
    return True


async def ready(request: web.Request) -> web.Response:
    """Readiness: the database and the store each answer within READY_DEADLINE_SECONDS
    and the spool can be written (else a message that cannot be handled cannot be kept
    either); 503 names which one did not (true or false, nothing more)."""
    state = request.app[APP_STATE]
    started = time.monotonic()
    database_ok, store_ok, spool_ok = await asyncio.gather(
        _answers("the database", _database_answers(state)),
        _answers("the store", state.store.ping()),
        _answers("the spool", asyncio.to_thread(_spool_writable, state)),
    )
    ok = database_ok and store_ok and spool_ok
    return web.json_response(
        {
            "ok": ok,
            "database": database_ok,
            "store": store_ok,
            "spool": spool_ok,
            "ms": round((time.monotonic() - started) * 1000, 1),
        },
        status=200 if ok else 503,
    )


def create_app(
    settings: Settings,
    store: MemoryStore | RedisStore | None = None,
    router: Router | None = None,
) -> web.Application:
    """Build the service; ``store`` lets several apps share one store (processes in tests)."""
    app = web.Application(middlewares=[_in_database, api_errors])
    app[APP_STATE] = AppState(
        settings=settings, translate=default_translator(), store=store, router=router
    )
    app.cleanup_ctx.extend([_database, _store, _spool, _push, _jobs])
    callback = Callback(app[APP_STATE])
    base = settings.callback_path.rstrip("/") or "/wechat"
    app.router.add_get(base, callback.verify)
    app.router.add_post(base, callback.receive)
    app.router.add_get(base + "/{account}", callback.verify)
    app.router.add_post(base + "/{account}", callback.receive)
    app.router.add_get("/healthz", health)
    app.router.add_get("/readyz", ready)
    for capability in capabilities():
        if capability.routes is not None:
            app.router.add_routes(capability.routes)
    add_console_routes(app)
    add_wecom_routes(app, app[APP_STATE])
    add_openapi_routes(app)
    return app
