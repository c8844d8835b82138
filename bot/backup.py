"""Backup and restore (数据备份与恢复): one tar.gz with the database, the spool and media.

The archive holds ``manifest.json`` (the format, the engine, when, every table's row count
and the files), the database (``database.dump``, pg_dump's custom format, on PostgreSQL;
``database.sqlite3``, SQLite's online backup, when embedded) and the data directory's
``spool/`` and ``media/``. PostgreSQL's counts and dump come from one exported snapshot, so
the manifest describes exactly what was dumped. A restore refuses a target that holds rows
unless forced, and checks every table's count against the manifest afterwards.

The archive holds residents' personal data: it is written with mode 0600, and secrets
(the database password) go to pg_dump through its environment, never its arguments.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

import asyncpg

from bot.spool import SUFFIX, merge_into, snapshot

FORMAT = 1
MANIFEST = "manifest.json"
PG_DUMP = "database.dump"
SQLITE_COPY = "database.sqlite3"
# What of the data directory travels with the database.
DATA_PARTS = ("spool", "media")
# Bookkeeping that an empty, migrated database already has.
NOT_DATA = {"tortoise_migrations"}


class BackupError(Exception):
    """A backup or restore that cannot go on; the message is for the operator."""


@dataclass(frozen=True)
class Restored:
    engine: str
    rows: dict[str, int]
    files: int


def is_postgres(database_url: str) -> bool:
    return database_url.startswith(("postgres://", "postgresql://", "asyncpg://"))


def _sqlite_path(database_url: str) -> Path:
    if ":memory:" in database_url:
        raise BackupError("an in-memory database has nothing to back up")
    return Path(database_url.removeprefix("sqlite://").split("?")[0])


def _pg_env(database_url: str) -> dict[str, str]:
    """libpq's environment for ``database_url`` (the password stays out of argv)."""
    parts = urlsplit(database_url)
    env = dict(os.environ)
    for name, value in (
        ("PGHOST", parts.hostname),
        ("PGPORT", str(parts.port) if parts.port else None),
        ("PGUSER", unquote(parts.username) if parts.username else None),
        ("PGPASSWORD", unquote(parts.password) if parts.password else None),
        ("PGDATABASE", unquote(parts.path.lstrip("/")) or None),
    ):
        if value:
            env[name] = value
    return env


def _asyncpg_dsn(database_url: str) -> str:
    """Tortoise's URL without its pool options (``maxsize=``), for asyncpg."""
    parts = urlsplit(database_url)
    return parts._replace(scheme="postgresql", query="").geturl()


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        # pg_* errors name objects and hosts, not passwords (those come from the environment).
        raise BackupError(f"{command[0]} failed: {done.stderr.strip()[-2000:]}")


# --- counting rows ---------------------------------------------------------------------


def _sqlite_counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


async def _pg_counts(conn: asyncpg.Connection) -> dict[str, int]:
    tables = await conn.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
    )
    counts = {}
    for row in tables:
        counts[row[0]] = await conn.fetchval(f'SELECT count(*) FROM "{row[0]}"')
    return counts


def _holds_data(counts: dict[str, int]) -> bool:
    return any(n for table, n in counts.items() if table not in NOT_DATA)


# --- backup ----------------------------------------------------------------------------


async def _dump_postgres(database_url: str, target: Path) -> dict[str, int]:
    """Count and dump from one snapshot: the manifest's counts are the dump's."""
    conn = await asyncpg.connect(_asyncpg_dsn(database_url))
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            snapshot_id = await conn.fetchval("SELECT pg_export_snapshot()")
            counts = await _pg_counts(conn)
            command = [
                "pg_dump",
                "--format=custom",
                "--no-owner",
                "--no-acl",
                f"--snapshot={snapshot_id}",
                f"--file={target}",
            ]
            await asyncio.to_thread(_run, command, _pg_env(database_url))
    finally:
        await conn.close()
    return counts


def _copy_sqlite(database_url: str, target: Path) -> dict[str, int]:
    """SQLite's online backup: consistent while the service keeps writing."""
    source_path = _sqlite_path(database_url)
    if not source_path.exists():
        raise BackupError(f"no database at {source_path}")
    with sqlite3.connect(source_path) as source, sqlite3.connect(target) as copy:
        source.backup(copy)
    return _sqlite_counts(target)


def _data_files(data_dir: Path) -> list[tuple[str, bytes]]:
    """The spool (read under its lock, without lock and claim files) and media, by name."""
    files = []
    spool = data_dir / "spool"
    if spool.is_dir():
        for path in sorted(spool.glob(f"*{SUFFIX}")):
            files.append((f"spool/{path.name}", snapshot(path)))
    media = data_dir / "media"
    if media.is_dir():
        for path in sorted(p for p in media.rglob("*") if p.is_file() and not p.is_symlink()):
            files.append((f"media/{path.relative_to(media).as_posix()}", path.read_bytes()))
    return files


def archive_path(out: str | None, now: datetime | None = None) -> Path:
    """``out`` itself, or a dated archive in ``out`` when it is a directory (default: .)."""
    target = Path(out or ".")
    if out is not None and not target.is_dir():
        return target
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return target / f"linli-backup-{stamp}.tar.gz"


async def backup(database_url: str, data_dir: Path, archive: Path) -> dict[str, Any]:
    """Write ``archive`` (atomically, mode 0600) and return its manifest."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="linli-backup-") as work:
        if is_postgres(database_url):
            engine, name = "postgresql", PG_DUMP
            counts = await _dump_postgres(database_url, Path(work) / name)
        else:
            engine, name = "sqlite", SQLITE_COPY
            counts = await asyncio.to_thread(_copy_sqlite, database_url, Path(work) / name)
        files = await asyncio.to_thread(_data_files, data_dir)
        manifest = {
            "format": FORMAT,
            "created_at": datetime.now(UTC).isoformat(),
            "engine": engine,
            "database": name,
            "rows": counts,
            "files": [member for member, _ in files],
        }
        await asyncio.to_thread(_write_archive, archive, Path(work) / name, manifest, files)
    return manifest


def _write_archive(
    archive: Path, database: Path, manifest: dict[str, Any], files: list[tuple[str, bytes]]
) -> None:
    partial = archive.with_name(archive.name + ".part")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as raw:
        with tarfile.open(fileobj=raw, mode="w:gz") as tar:
            _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=2).encode())
            tar.add(database, arcname=manifest["database"], recursive=False)
            for member, data in files:
                _add_bytes(tar, f"data/{member}", data)
        raw.flush()
        os.fsync(raw.fileno())
    os.replace(partial, archive)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    info.mtime = int(datetime.now(UTC).timestamp())
    tar.addfile(info, io.BytesIO(data))


# --- restore ---------------------------------------------------------------------------


def _safe_member(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        raise BackupError(f"refusing a path outside the archive: {name}")
    return path


def _unpack(archive: Path, into: Path) -> dict[str, Any]:
    """Regular files only, each inside ``into``; the manifest checked first."""
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            for member in tar.getmembers():
                path = _safe_member(member.name)
                if not member.isfile():
                    raise BackupError(f"refusing a member that is no regular file: {member.name}")
                source = tar.extractfile(member)
                assert source is not None
                target = into.joinpath(*path.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with source, target.open("wb") as out:
                    shutil.copyfileobj(source, out)
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"cannot read {archive}: {exc}") from None
    manifest_path = into / MANIFEST
    if not manifest_path.exists():
        raise BackupError("the archive has no manifest: not a Linli backup")
    manifest: dict[str, Any] = json.loads(manifest_path.read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unknown backup format {manifest.get('format')!r}")
    return manifest


async def _restore_postgres(database_url: str, dump: Path, force: bool) -> dict[str, int]:
    dsn = _asyncpg_dsn(database_url)
    conn = await asyncpg.connect(dsn)
    try:
        if _holds_data(await _pg_counts(conn)) and not force:
            raise BackupError("the target database holds data: restore with --force to replace")
    finally:
        await conn.close()
    command = [
        "pg_restore",
        "--clean",
        "--if-exists",
        "--no-owner",
        "--no-acl",
        "--single-transaction",
        "--exit-on-error",
        f"--dbname={_pg_env(database_url)['PGDATABASE']}",
        str(dump),
    ]
    await asyncio.to_thread(_run, command, _pg_env(database_url))
    conn = await asyncpg.connect(dsn)
    try:
        return await _pg_counts(conn)
    finally:
        await conn.close()


def _restore_sqlite(database_url: str, copy: Path, force: bool) -> dict[str, int]:
    target = _sqlite_path(database_url)
    if target.exists() and _holds_data(_sqlite_counts(target)) and not force:
        raise BackupError("the target database holds data: restore with --force to replace")
    target.parent.mkdir(parents=True, exist_ok=True)
    # The backup API writes every page of the copy over the target, WAL included.
    with sqlite3.connect(copy) as source, sqlite3.connect(target) as restored:
        source.backup(restored)
    return _sqlite_counts(target)


def _restore_files(unpacked: Path, names: list[str], data_dir: Path) -> int:
    """Spool entries are merged (none lost, none twice); media missing here are added."""
    for name in names:
        path = _safe_member(name)
        source = unpacked.joinpath("data", *path.parts)
        target = data_dir.joinpath(*path.parts)
        if path.parts[0] == "spool":
            merge_into(target, source.read_bytes())
        elif path.parts[0] == "media" and not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    return len(names)


async def restore(
    archive: Path, database_url: str, data_dir: Path, force: bool = False
) -> Restored:
    """Restore ``archive`` into the configured database and data directory."""
    with tempfile.TemporaryDirectory(prefix="linli-restore-") as work:
        unpacked = Path(work)
        manifest = await asyncio.to_thread(_unpack, archive, unpacked)
        engine = "postgresql" if is_postgres(database_url) else "sqlite"
        if manifest["engine"] != engine:
            raise BackupError(f"this is a {manifest['engine']} backup and the target is {engine}")
        database = unpacked / _safe_member(manifest["database"]).name
        if engine == "postgresql":
            counts = await _restore_postgres(database_url, database, force)
        else:
            counts = await asyncio.to_thread(_restore_sqlite, database_url, database, force)
        missing = {
            table: (n, counts.get(table, 0))
            for table, n in manifest["rows"].items()
            if counts.get(table, 0) != n
        }
        if missing:
            raise BackupError(f"restored counts differ from the backup's: {missing}")
        files = await asyncio.to_thread(_restore_files, unpacked, list(manifest["files"]), data_dir)
    return Restored(engine=engine, rows=counts, files=files)
