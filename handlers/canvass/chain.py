"""Tamper evidence for a vote's answers: a hash chain per household, folded into one digest.

Each answer's audit entry carries the digest of the entry before it in its chain (one
household's voice in one vote) and its own digest over its content. One chain per
household, not one per vote, because a chain per vote would make every vote of a
proposal wait for the one before it; a household's answers are already serialised by
the lock on its vote row. At close the heads of all chains fold into the digest the
poster prints; ``linli verify-vote`` recomputes it all from the database.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any


def chain_of(proposal_id: int, elector: str) -> str:
    return f"vote:{proposal_id}:{elector}"


def genesis(chain: str) -> str:
    """What the first entry of a chain links to: nothing before it, but bound to its chain."""
    return hashlib.sha256(f"linli:{chain}".encode()).hexdigest()


def link(prev: str, actor: str, action: str, after: Mapping[str, Any]) -> str:
    """An entry's own digest: its content and the digest it follows, canonically encoded."""
    body = json.dumps(
        {"prev": prev, "actor": actor, "action": action, "after": after},
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()


def fold(proposal_id: int, heads: Iterable[tuple[str, str]]) -> str:
    """The vote's digest: every chain's last digest, in chain order, under the proposal."""
    lines = [f"proposal {proposal_id}"] + [f"{c} {d}" for c, d in sorted(heads)]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def broken_links(entries: Iterable[Mapping[str, Any]]) -> list[int]:
    """The ids of the entries of one chain (in id order) whose digest or link does not hold."""
    bad: list[int] = []
    expected: str | None = None
    for entry in entries:
        prev = entry["prev"]
        if expected is None:
            expected = genesis(entry["chain"])
        own = link(prev, entry["actor"], entry["action"], entry["after"] or {})
        if prev != expected or own != entry["digest"]:
            bad.append(int(entry["id"]))
        expected = entry["digest"]
    return bad


def recheck(
    subject_id: int, entries: Iterable[Mapping[str, Any]], counted: Mapping[str, Any], field: str
) -> tuple[str, list[int], list[str]]:
    """What a verification recomputes from one subject's chained entries (in id order, their
    ``after`` decoded): the folded digest, the ids of entries whose link does not hold, and
    the chains whose ``counted`` value is not their last entry's ``field``."""
    chains: dict[str, list[Mapping[str, Any]]] = {}
    for entry in entries:
        chains.setdefault(entry["chain"], []).append(entry)
    broken = [bad for chain in chains.values() for bad in broken_links(chain)]
    last = {chain: (items[-1]["after"] or {}).get(field) for chain, items in chains.items()}
    mismatched = sorted(c for c in set(last) | set(counted) if last.get(c) != counted.get(c))
    digest = fold(subject_id, ((c, items[-1]["digest"]) for c, items in chains.items()))
    return digest, broken, mismatched
