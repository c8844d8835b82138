"""A local, durable spool for messages we could not handle when they came.

When the database or the store is down or stalls past WeChat's window, the resident is
told we will come back to them, and the event is appended here (fsync'd JSON lines). A
background task replays the spool through the same dispatcher once things recover, in
each resident's order, and sends the answer as a late reply. Nothing a resident sent is
lost, and nothing takes effect twice (the dispatcher's ledger).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from handlers.types import Event, Location

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 20
SUFFIX = ".jsonl"
DEAD = ".dead.jsonl"


def event_to_json(event: Event) -> dict[str, Any]:
    data = asdict(event)
    data["created_at"] = event.created_at.isoformat()
    return data


def event_from_json(data: dict[str, Any]) -> Event:
    data = dict(data)
    data["created_at"] = datetime.fromisoformat(data["created_at"])
    if data.get("location"):
        data["location"] = Location(**data["location"])
    return Event(**data)


class Spool:
    """The spool directory: this process appends to a file of its own, and replays them all.

    Files are named by the process that wrote them (its hostname), but any process replays
    any file: replicas share the volume, and a recreated container has a new name, so a
    file whose writer is gone would otherwise never be replayed. A replaying process claims
    a file with an exclusive, non-blocking ``flock`` on its ``.claim`` file for as long as
    it works on it; another process finding it claimed leaves it, so each entry is offered
    once. The lock goes with the process, so a replayer that dies frees its claim.

    Order per resident: while a resident has entries waiting, a marker file stands for
    them in ``held/`` and ``holds`` says so (one ``stat``), so the callback spools their new
    messages behind the old ones; the replay takes each resident's entries in the order
    WeChat sent them, one at a time, and residents side by side. Nothing here is held while
    a message is handled: appends never wait on a replay.
    """

    def __init__(self, directory: Path, name: str, concurrency: int = 4) -> None:
        self.directory = directory
        self.path = directory / f"{name}{SUFFIX}"
        self.held = directory / "held"
        self._keys: set[str] = set()
        self._replaying = asyncio.Lock()
        self._concurrency = concurrency

    def holds(self, account: str, openid: str) -> bool:
        """Whether this resident has messages waiting in the spool (on any process)."""
        return _marker(self.held, account, openid).exists()

    async def append(self, key: str, event: Event) -> None:
        """Keep ``event`` until it is replayed; a key already kept here is not kept twice.

        Raises ``OSError`` when nothing could be written: the caller must not claim the
        message was kept."""
        if key in self._keys:
            return
        entry = {"id": uuid.uuid4().hex, "key": key, "event": event_to_json(event), "attempts": 0}
        marker = _marker(self.held, event.account, event.openid)
        await asyncio.to_thread(_append_held, self.path, [entry], [marker])
        self._keys.add(key)

    def files(self) -> list[Path]:
        """Every spool file in the directory, whoever wrote it (not the dead letters)."""
        if not self.directory.is_dir():
            return []
        return sorted(
            path for path in self.directory.glob(f"*{SUFFIX}") if not path.name.endswith(DEAD)
        )

    async def pending(self) -> int:
        """Entries waiting in the whole directory."""
        return sum([len(await asyncio.to_thread(_locked_read, p)) for p in self.files()])

    async def replay(self, handle: Any) -> int:
        """Offer each entry of every unclaimed file to ``handle(key, event)``, drop those taken.

        Entries leave a file only after they were handled, so a crash mid-replay offers
        them again; ``handle`` must be idempotent per key (the dispatcher's ledger is).
        A resident's entries stop at the first that fails, so none overtakes it.
        """
        async with self._replaying:
            claims: list[IO[str]] = []
            try:
                read: list[tuple[Path, list[dict[str, Any]]]] = []
                for path in await asyncio.to_thread(self.files):
                    claim = await asyncio.to_thread(_claim, path)
                    if claim is None:
                        continue  # another process is replaying this file
                    claims.append(claim)
                    read.append((path, await asyncio.to_thread(_locked_read, path)))
                done, failed = await self._offer(read, handle)
                for path, entries in read:
                    if entries:
                        await asyncio.to_thread(_settle, path, done, failed)
                self._keys -= {e["key"] for _, entries in read for e in entries if e["id"] in done}
            finally:
                for claim in claims:
                    claim.close()  # closing the descriptor releases the flock
            await asyncio.to_thread(_sync_markers, self.directory, self.held, self.files())
            return len(done)

    async def _offer(
        self, read: list[tuple[Path, list[dict[str, Any]]]], handle: Any
    ) -> tuple[set[str], dict[str, int]]:
        done: set[str] = set()
        failed: dict[str, int] = {}
        queues: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for position, entry in enumerate(e for _, entries in read for e in entries):
            event = entry["event"]
            entry["_order"] = (event["created_at"], _msg_order(event), position)
            queues.setdefault((event["account"], event["openid"]), []).append(entry)
        gate = asyncio.Semaphore(self._concurrency)

        async def one_resident(entries: list[dict[str, Any]]) -> None:
            async with gate:
                taken: set[str] = set()
                for entry in sorted(entries, key=lambda e: e["_order"]):
                    if entry["key"] in taken:  # the same message spooled twice
                        done.add(entry["id"])
                        continue
                    try:
                        await handle(entry["key"], event_from_json(entry["event"]))
                    except Exception as exc:
                        failed[entry["id"]] = entry.get("attempts", 0) + 1
                        log.warning("spooled message still failing (%s)", type(exc).__name__)
                        return  # the rest of this resident's messages wait behind it
                    taken.add(entry["key"])
                    done.add(entry["id"])

        await asyncio.gather(*(one_resident(entries) for entries in queues.values()))
        return done, failed


def _msg_order(event: dict[str, Any]) -> int:
    """WeChat's MsgIds grow with time: they order messages sent within one second."""
    msg_id = str(event.get("msg_id") or "")
    return int(msg_id) if msg_id.isdigit() else 0


def _marker(held: Path, account: str, openid: str) -> Path:
    digest = hashlib.sha256(f"{account}\n{openid}".encode()).hexdigest()[:32]
    return held / digest


def _held_lock(directory: Path) -> contextlib.AbstractContextManager[None]:
    return _exclusive(directory / "held.lock")


def _touch(markers: Iterable[Path]) -> None:
    for marker in markers:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()


def _append_held(path: Path, entries: list[dict[str, Any]], markers: list[Path]) -> None:
    """Write the entries, then their residents' markers, as one step against the sweep."""
    with _held_lock(path.parent):
        _append(path, entries)
        _touch(markers)


def _sync_markers(directory: Path, held: Path, files: list[Path]) -> None:
    """Each resident with entries in a spool file has a marker (a restored or copied file
    too); the markers of residents with nothing left go."""
    with _held_lock(directory):
        waiting = {
            _marker(held, e["event"]["account"], e["event"]["openid"])
            for path in files
            for e in _locked_read(path)
        }
        _touch(waiting)
        if held.is_dir():
            for marker in held.iterdir():
                if marker not in waiting:
                    marker.unlink(missing_ok=True)


def _file_lock_path(path: Path) -> Path:
    return path.with_name(path.name.removesuffix(SUFFIX) + ".lock")


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _file_lock(path: Path) -> contextlib.AbstractContextManager[None]:
    """Appends and rewrites of one file exclude each other, across processes."""
    return _exclusive(_file_lock_path(path))


def _claim(path: Path) -> IO[str] | None:
    """The open claim on ``path`` (held until closed), or None if another process holds it."""
    claim = path.with_name(path.name.removesuffix(SUFFIX) + ".claim").open("a")
    try:
        fcntl.flock(claim, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        claim.close()
        return None
    return claim


def _write_lines(path: Path, entries: list[dict[str, Any]], mode: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open(mode, encoding="utf-8") as fh:
        for entry in entries:
            fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _append(path: Path, entries: list[dict[str, Any]]) -> None:
    with _file_lock(path):
        _write_lines(path, entries, "a")


def _read(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                log.error("skipping a damaged spool line")
    return entries


def _locked_read(path: Path) -> list[dict[str, Any]]:
    with _file_lock(path):
        return _read(path)


def _settle(path: Path, done: set[str], failed: dict[str, int]) -> None:
    """Rewrite the file without what was handled; entries appended meanwhile stay.

    The new content is written beside it and renamed over it, so a crash mid-rewrite
    leaves the old file, never a half-written one.
    """
    with _file_lock(path):
        keep, dead = [], []
        for entry in _read(path):
            if entry["id"] in done:
                continue
            if entry["id"] in failed:
                entry["attempts"] = failed[entry["id"]]
                if entry["attempts"] >= MAX_ATTEMPTS:
                    dead.append(entry)
                    continue
            keep.append(entry)
        fresh = path.with_name(path.name + ".tmp")
        _write_lines(fresh, keep, "w")
        os.replace(fresh, path)
    if dead:
        _append(path.with_name(path.name.removesuffix(SUFFIX) + DEAD), dead)


# --- backup and restore (``bot.backup``) -----------------------------------------------


def snapshot(path: Path) -> bytes:
    """A spool file's content as it stands between appends."""
    with _file_lock(path):
        return path.read_bytes() if path.exists() else b""


def merge_into(path: Path, data: bytes) -> int:
    """Append the entries of ``data`` that ``path`` does not hold yet; how many were added."""
    given = []
    for line in data.decode("utf-8").splitlines():
        if line.strip():
            try:
                given.append(json.loads(line))
            except json.JSONDecodeError:
                log.error("skipping a damaged spool line")
    with _file_lock(path):
        have = {entry.get("id") for entry in _read(path)}
        fresh = [entry for entry in given if entry.get("id") not in have]
        if fresh:
            _write_lines(path, fresh, "a")
    return len(fresh)
