"""A local, durable spool for messages we could not handle when they came.

When the database or the store is down, the resident is told we will come back
to them, and the event is appended here (fsync'd JSON lines). A background task
replays the spool through the same dispatcher once things recover, and sends
the answer as a late reply. Nothing a resident sent is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import uuid
from collections.abc import Iterator
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
    """

    def __init__(self, directory: Path, name: str) -> None:
        self.directory = directory
        self.path = directory / f"{name}{SUFFIX}"
        self._lock = asyncio.Lock()

    async def append(self, key: str, event: Event) -> None:
        entry = {"id": uuid.uuid4().hex, "key": key, "event": event_to_json(event), "attempts": 0}
        async with self._lock:
            await asyncio.to_thread(_append, self.path, [entry])

    def files(self) -> list[Path]:
        """Every spool file in the directory, whoever wrote it (not the dead letters)."""
        if not self.directory.is_dir():
            return []
        return sorted(
            path for path in self.directory.glob(f"*{SUFFIX}") if not path.name.endswith(DEAD)
        )

    async def pending(self) -> int:
        """Entries waiting in the whole directory."""
        async with self._lock:
            return sum([len(await asyncio.to_thread(_read, p)) for p in self.files()])

    async def replay(self, handle: Any) -> int:
        """Offer each entry of every unclaimed file to ``handle(key, event)``, drop those taken.

        Entries leave a file only after they were handled, so a crash mid-replay
        replays them again; ``handle`` must be idempotent per key.
        """
        async with self._lock:
            done = 0
            for path in await asyncio.to_thread(self.files):
                claim = await asyncio.to_thread(_claim, path)
                if claim is None:
                    continue  # another process is replaying this file
                try:
                    done += await _replay_file(path, handle)
                finally:
                    claim.close()  # closing the descriptor releases the flock
            return done


def _file_lock_path(path: Path) -> Path:
    return path.with_name(path.name.removesuffix(SUFFIX) + ".lock")


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Appends and rewrites of one file exclude each other, across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock_path(path).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


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


async def _replay_file(path: Path, handle: Any) -> int:
    entries = await asyncio.to_thread(_locked_read, path)
    done: set[str] = set()
    failed: dict[str, int] = {}
    for entry in entries:
        try:
            await handle(entry["key"], event_from_json(entry["event"]))
            done.add(entry["id"])
        except Exception as exc:
            failed[entry["id"]] = entry.get("attempts", 0) + 1
            log.warning("spooled message still failing (%s)", type(exc).__name__)
    if entries:
        await asyncio.to_thread(_settle, path, done, failed)
    return len(done)


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
