"""Benchmark the complaint router: held-out accuracy, the corpus fit, speed and start-up.

Usage::

    python bench/routing.py [--corpus config/routing_corpus] [--heldout bench/data/heldout]
                            [--passes 5] [--misses]

What it does:

1. Loads two labelled sets (JSONL: ``text``, ``department``, ``style``, optional
   ``split``, ``written``, ``author``): the held-out set, every ``*.jsonl`` of
   ``--heldout``, and the training corpus, every ``*.jsonl`` of ``--corpus``. The corpus
   may be growing while this runs: whatever is on disk is read, and a last line still
   being written (no newline, not JSON yet) is skipped.
2. Routes every item with ``default_router().route``, the code path of the service and of
   ``linli route`` (the keyword table plus the learned layer), and reports for each set:
   accuracy overall, per style and per split; per-department precision, recall and F1 (a
   department's precision counts the routings to it, and a complaint sent to triage counts
   as routed to "other"); ``triage_share``, the share sent to the grid worker for triage
   because no department was sure enough; ``accuracy_routed``, the accuracy of what was
   not sent to triage; ``triage_top2``, the share of triaged complaints whose right
   department is among the two candidates the grid worker is shown; and the confusion
   matrix (rows: the right department, columns: the routed one). ``--misses`` lists the
   misrouted items.
3. Time per complaint: the held-out set and a fixed sample of up to 1,000 corpus items,
   after one warm-up pass (step 2 routes them all once), then ``--passes`` passes timed
   with ``perf_counter``; ms per item = total ÷ routings.
4. Start-up: a fresh ``python -c`` subprocess that builds ``default_router()`` (jieba
   initialised, user dictionary and the model loaded) and routes once; wall time from
   before the process is spawned to its exit, median of three runs (interpreter start-up
   counts).

Which number to believe: the model was trained on the corpus, so the corpus figures say
how well it fits what it learned from, not how it does on new text. The held-out
accuracy is the honest estimate, and the headline ``accuracy``. That holds only while
the rule holds: held-out items are written after the last change to the model or the
keywords and are never tuned on. When someone tunes on them (revises keywords or
features because of them, or trains on them), they move into the corpus and new
held-out items are written. Held-out texts also found in the corpus are counted
(``heldout_in_corpus``): it should be 0.

``peak_rss_mb``: this process's peak resident memory (``getrusage``), with the router,
jieba, its dictionaries and the model loaded (the start-up subprocesses not counted).

Targets (reported, never asserted): held-out accuracy ≥ 0.90, at most 1 ms per complaint,
start-up at most 2 s. The exit code is nonzero if either set is empty or the run fails; no
accuracy is required (``tests/bench`` runs this with one pass and checks the JSON). The
last line of output is one JSON object: ``{"bench": "routing", "accuracy", "heldout",
"corpus", "ms_per_item", "startup_s", "items", "heldout_in_corpus", "peak_rss_mb"}``,
``heldout`` and ``corpus`` each ``{"accuracy", "per_style", "per_split", "departments",
"triage_share", "accuracy_routed", "triage_top2"}``.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "config" / "routing_corpus"
HELDOUT = ROOT / "bench" / "data" / "heldout"
STYLES = ("simplified", "traditional", "voice", "indirect", "annotated")
TIMING_SAMPLE = 1000
STARTUP_CODE = (
    "from handlers.complaints.routing import default_router; default_router().route('电梯坏了')"
)

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from handlers.complaints.routing import Routing, default_router  # noqa: E402


@dataclass(frozen=True)
class Item:
    text: str
    department: str
    style: str
    split: str
    source: str  # file:line, for --misses


def load(directory: Path, departments: Sequence[str]) -> list[Item]:
    """Every labelled item of the directory's ``*.jsonl`` files, in file and line order.

    A line lacking text, department or style, or naming a department the taxonomy does
    not have, is an error; a final line without its newline that is not JSON yet is one
    being written right now, and is skipped."""
    items = []
    known = set(departments)
    for path in sorted(directory.glob("*.jsonl")):
        raw = path.read_text(encoding="utf-8")
        lines = raw.splitlines()
        for lineno, line in enumerate(lines, 1):
            if not line.strip():
                continue
            where = f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}:{lineno}"
            try:
                doc = json.loads(line)
            except ValueError:
                if lineno == len(lines) and not raw.endswith("\n"):
                    print(f"skipped {where}: still being written", file=sys.stderr)
                    continue
                raise ValueError(f"{where} is not JSON") from None
            missing = {"text", "department", "style"} - doc.keys()
            if missing:
                raise ValueError(f"{where} lacks {', '.join(sorted(missing))}")
            if doc["department"] not in known:
                raise ValueError(f"{where}: no department {doc['department']!r} in the taxonomy")
            items.append(
                Item(doc["text"], doc["department"], doc["style"], doc.get("split", "-"), where)
            )
    return items


def share(oks: Sequence[bool]) -> float | None:
    return round(sum(oks) / len(oks), 4) if oks else None


def by_key(items: Sequence[Item], right: Sequence[bool], key: str) -> dict[str, float | None]:
    """Accuracy per value of ``key`` (styles of STYLES first, the rest sorted)."""
    groups: dict[str, list[bool]] = defaultdict(list)
    for item, ok in zip(items, right, strict=True):
        groups[getattr(item, key)].append(ok)
    first = STYLES if key == "style" else ()
    order = [k for k in first if k in groups] + sorted(set(groups) - set(first))
    return {k: share(groups[k]) for k in order}


def per_department(
    items: Sequence[Item], routed: Sequence[str], keys: Sequence[str]
) -> dict[str, dict[str, float | int | None]]:
    """Precision, recall and F1 of each department (None where a ratio has no base)."""
    hits, truth, sent = Counter(), Counter(), Counter()
    for item, got in zip(items, routed, strict=True):
        truth[item.department] += 1
        sent[got] += 1
        hits[got] += got == item.department
    report: dict[str, dict[str, float | int | None]] = {}
    for key in keys:
        precision = hits[key] / sent[key] if sent[key] else None
        recall = hits[key] / truth[key] if truth[key] else None
        f1 = None
        if precision is not None and recall is not None:
            f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        report[key] = {
            "precision": None if precision is None else round(precision, 3),
            "recall": None if recall is None else round(recall, 3),
            "f1": None if f1 is None else round(f1, 3),
            "items": truth[key],
        }
    return report


def evaluate(
    items: Sequence[Item], routings: Sequence[Routing], keys: Sequence[str]
) -> dict[str, Any]:
    routed = [r.department for r in routings]
    right = [got == item.department for item, got in zip(items, routed, strict=True)]
    triaged = [(item, r) for item, r in zip(items, routings, strict=True) if r.triage]
    routed_ok = [ok for ok, r in zip(right, routings, strict=True) if not r.triage]
    top2 = [item.department in {d for d, _ in r.candidates} for item, r in triaged]
    return {
        "accuracy": share(right),
        "per_style": by_key(items, right, "style"),
        "per_split": by_key(items, right, "split"),
        "departments": per_department(items, routed, keys),
        "triage_share": round(len(triaged) / len(items), 4),
        "accuracy_routed": share(routed_ok),
        "triage_top2": share(top2),
    }


def startup_seconds(runs: int = 3) -> float:
    """Median wall time of a fresh process that builds the default router and routes once."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", STARTUP_CODE], cwd=ROOT, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def confusion(items: Sequence[Item], routed: Sequence[str], keys: Sequence[str]) -> str:
    """A compact matrix: rows the right department, columns the routed one."""
    short = {k: k[:5] for k in keys}
    counts = Counter((item.department, got) for item, got in zip(items, routed, strict=True))
    width = max(len(s) for s in short.values()) + 1
    lines = [" " * width + "".join(f"{short[k]:>{width}}" for k in keys)]
    for right in keys:
        cells = "".join(f"{counts[(right, got)] or '.':>{width}}" for got in keys)
        lines.append(f"{short[right]:<{width}}{cells}")
    return "\n".join(lines)


def fmt(value: float | None) -> str:
    return "  -  " if value is None else f"{value:.3f}"


def print_set(
    title: str,
    items: Sequence[Item],
    routings: Sequence[Routing],
    report: dict[str, Any],
    keys: Sequence[str],
    misses: bool,
) -> None:
    counts = {k: Counter(getattr(i, k) for i in items) for k in ("style", "split")}
    print(f"\n== {title}: {len(items)} items   accuracy: {fmt(report['accuracy'])}")
    for style, value in report["per_style"].items():
        print(f"  {style:<12} {fmt(value)}  ({counts['style'][style]} items)")
    for split, value in report["per_split"].items():
        print(f"  split {split:<6} {fmt(value)}  ({counts['split'][split]} items)")
    print(
        f"  sent to triage: {report['triage_share']:.3f}"
        f"   accuracy of the rest: {fmt(report['accuracy_routed'])}"
        f"   triaged with the right department in the top two: {fmt(report['triage_top2'])}"
    )
    print(f"  {'department':<18} precision  recall     f1  items")
    for key, row in report["departments"].items():
        print(
            f"  {key:<18} {fmt(row['precision']):>9} {fmt(row['recall']):>7}"
            f" {fmt(row['f1']):>6} {row['items']:>6}"
        )
    print("confusion (rows: right department, columns: routed; triage counts as other):")
    print(confusion(items, [r.department for r in routings], keys))
    if misses:
        print("misses:")
        for item, r in zip(items, routings, strict=True):
            if r.department != item.department:
                top = ", ".join(f"{d} {p:.2f}" for d, p in r.candidates)
                print(
                    f"  {item.source} [{item.style}] {item.department} → {r.department}"
                    f" ({r.confidence:.2f}, guess {r.guess}"
                    f"{', triage' if r.triage else ''}{f'; {top}' if top else ''}):"
                    f" {item.text}"
                )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="the training corpus")
    parser.add_argument("--heldout", type=Path, default=HELDOUT, help="the held-out sets")
    parser.add_argument("--passes", type=int, default=5, help="timing passes")
    parser.add_argument("--misses", action="store_true", help="list the misrouted items")
    args = parser.parse_args()
    if args.passes < 1:
        parser.error("--passes must be at least 1")

    router = default_router()
    keys = list(router.taxonomy.keys)
    try:
        heldout = load(args.heldout, keys)
        corpus = load(args.corpus, keys)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 1
    sets = (("held-out", heldout, args.heldout), ("corpus", corpus, args.corpus))
    for name, items, where in sets:
        if not items:
            print(f"no {name} items in {where}/*.jsonl", file=sys.stderr)
            return 1
    route = router.route

    heldout_routings = [route(item.text) for item in heldout]  # also the warm-up
    corpus_routings = [route(item.text) for item in corpus]
    heldout_report = evaluate(heldout, heldout_routings, keys)
    corpus_report = evaluate(corpus, corpus_routings, keys)
    corpus_texts = {item.text.strip() for item in corpus}
    leaked = sum(item.text.strip() in corpus_texts for item in heldout)

    sample = random.Random(0).sample(corpus, min(TIMING_SAMPLE, len(corpus)))
    texts = [item.text for item in (*heldout, *sample)]
    started = time.perf_counter()
    for _ in range(args.passes):
        for text in texts:
            route(text)
    ms_per_item = (time.perf_counter() - started) * 1000 / (args.passes * len(texts))

    startup = startup_seconds()

    print(f"learned layer: {'loaded' if router.model is not None else 'absent (keywords only)'}")
    print_set(
        "held-out (never trained or tuned on: the honest estimate)",
        heldout,
        heldout_routings,
        heldout_report,
        keys,
        args.misses,
    )
    print_set(
        "corpus (in-sample: the model was trained on it, so this is fit, not generalisation)",
        corpus,
        corpus_routings,
        corpus_report,
        keys,
        args.misses,
    )
    if leaked:
        print(f"\nWARNING: {leaked} held-out texts are also in the corpus: not held out")
    print(
        f"\nms per complaint ({len(texts)} items, after warm-up, {args.passes} passes):"
        f" {ms_per_item:.4f}   (target ≤ 1)"
    )
    print(f"start-up, fresh process to router ready (median of 3): {startup:.2f} s   (target ≤ 2)")
    print(
        json.dumps(
            {
                "bench": "routing",
                "accuracy": heldout_report["accuracy"],
                "heldout": heldout_report,
                "corpus": corpus_report,
                "ms_per_item": round(ms_per_item, 4),
                "startup_s": round(startup, 3),
                "items": {"heldout": len(heldout), "corpus": len(corpus)},
                "heldout_in_corpus": leaked,
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            },
            ensure_ascii=False,
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
