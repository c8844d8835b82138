"""Training the learned layer: the project's corpus, and workers' corrections behind a guard.

The corpus (``config/routing_corpus/*.jsonl``: ``text``, ``department``, ``style``) is what
the shipped model learned from; ``linli train-router`` rebuilds the shipped file from it.
Workers' reassignments are added on top when the service retrains, under a guard: a lesson
(texts corrected from one department to another) counts only once at least
``MIN_CORRECTIONS`` corrections from at least ``MIN_WORKERS`` different workers teach it,
and each weighs less as it ages (half as much every ``HALF_LIFE_DAYS``). One worker's
habit, or a burst of mistakes on one afternoon, cannot flip a department.
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from handlers.complaints.learned import Example, Model, train
from handlers.complaints.routing import CORPUS_DIR, MODEL_FILE, Router

MIN_CORRECTIONS = 3
MIN_WORKERS = 2
HALF_LIFE_DAYS = 90.0
# A correction counts as much as this many corpus items, before its decay.
CORRECTION_WEIGHT = 3.0
# Every CALIBRATION_EVERY-th corpus item is held back to fit the temperature on.
CALIBRATION_EVERY = 7


@dataclass(frozen=True)
class Correction:
    text: str
    routed: str
    correct: str
    worker: int | None
    at: datetime


def load_corpus(directory: Path = CORPUS_DIR) -> list[dict[str, Any]]:
    """Every labelled item of the corpus files, in file and line order."""
    items = []
    for path in sorted(directory.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                items.append(json.loads(line))
    return items


def guarded(corrections: Iterable[Correction], now: datetime) -> list[tuple[str, str, float]]:
    """(text, right department, weight) of the corrections whose lesson enough workers teach."""
    by_lesson: dict[tuple[str, str], list[Correction]] = defaultdict(list)
    for correction in corrections:
        if correction.correct != correction.routed and correction.text.strip():
            by_lesson[(correction.routed, correction.correct)].append(correction)
    kept = []
    for lesson in by_lesson.values():
        workers = {c.worker for c in lesson if c.worker is not None}
        if len(lesson) < MIN_CORRECTIONS or len(workers) < MIN_WORKERS:
            continue
        for c in lesson:
            age_days = max(0.0, (now - c.at).total_seconds() / 86400)
            kept.append((c.text, c.correct, CORRECTION_WEIGHT * 0.5 ** (age_days / HALF_LIFE_DAYS)))
    return kept


def train_router(
    router: Router,
    items: Sequence[dict[str, Any]],
    corrections: Sequence[tuple[str, str, float]] = (),
    steps: int = 1200,
) -> Model:
    """The learned layer for ``router``'s taxonomy from corpus items and weighted corrections.

    Features come from ``router`` without a model (the keyword table's scores are features,
    so they must not depend on the model being trained)."""
    plain = router.with_model(None)
    examples: list[Example] = []
    held_back: list[Example] = []
    for n, item in enumerate(items):
        example = Example(plain.features(item["text"]), item["department"])
        (held_back if n % CALIBRATION_EVERY == CALIBRATION_EVERY - 1 else examples).append(example)
    for text, department, weight in corrections:
        examples.append(Example(plain.features(text), department, weight))
    return train(examples, router.taxonomy.keys, steps=steps, calibrate=held_back)


def train_in_child(
    items: Sequence[dict[str, Any]], corrections: Sequence[tuple[str, str, float]]
) -> dict[str, Any]:
    """``train_router`` on the shipped taxonomy, as JSON: run in a process of its own.

    Training takes minutes of CPU, much of it in Python (features) holding the GIL; in the
    serving process it would slow every answer meanwhile, past WeChat's 5 s window."""
    return train_router(Router.from_config(), items, corrections).to_json()


def save_model(model: Model, path: Path = MODEL_FILE) -> None:
    """Written compressed and byte-for-byte reproducible (no time in the gzip header)."""
    data = json.dumps(model.to_json(), ensure_ascii=False, sort_keys=True).encode()
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as fh:
        fh.write(data)
