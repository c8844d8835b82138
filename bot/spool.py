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
from typing import Any

from handlers.types import Event, Location

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 20


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
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = asyncio.Lock()

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        """Processes on one host may share the spool: appends and rewrites exclude each other."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.with_suffix(".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _write_lines(self, entries: list[dict[str, Any]], mode: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open(mode, encoding="utf-8") as fh:
            for entry in entries:
                fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def _append(self, entries: list[dict[str, Any]]) -> None:
        with self._file_lock():
            self._write_lines(entries, "a")

    async def append(self, key: str, event: Event) -> None:
        entry = {"id": uuid.uuid4().hex, "key": key, "event": event_to_json(event), "attempts": 0}
        async with self._lock:
            await asyncio.to_thread(self._append, [entry])

    def _read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        entries = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                try:
                    entries.append(json.loads(line))
                except json.JSONDecodeError:
                    log.error("skipping a damaged spool line")
        return entries

    async def pending(self) -> int:
        async with self._lock:
            return len(await asyncio.to_thread(self._read))

    def _locked_read(self) -> list[dict[str, Any]]:
        with self._file_lock():
            return self._read()

    def _settle(self, done: set[str], failed: dict[str, int]) -> None:
        """Rewrite the spool without what was handled; entries added meanwhile stay."""
        with self._file_lock():
            keep, dead = [], []
            for entry in self._read():
                if entry["id"] in done:
                    continue
                if entry["id"] in failed:
                    entry["attempts"] = failed[entry["id"]]
                    if entry["attempts"] >= MAX_ATTEMPTS:
                        dead.append(entry)
                        continue
                keep.append(entry)
            self._write_lines(keep, "w")
        if dead:
            Spool(self.path.with_suffix(".dead.jsonl"))._append(dead)

    async def replay(self, handle: Any) -> int:
        """Offer each entry to ``handle(key, event)`` and drop the ones it took.

        Entries leave the file only after they were handled, so a crash mid-replay
        replays them again; ``handle`` must be idempotent per key.
        """
        async with self._lock:
            entries = await asyncio.to_thread(self._locked_read)
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
                await asyncio.to_thread(self._settle, done, failed)
            return len(done)
