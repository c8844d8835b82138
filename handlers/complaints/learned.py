"""The learned layer of complaint routing: a linear model over words, characters and keywords.

Pure: no I/O, no clock. ``features`` turns a complaint (already normalised and cut by the
router) into named features; ``train`` fits a softmax regression on labelled texts; a
``Model`` scores a text in well under a millisecond and serialises to JSON for the database.

What the features say, beyond the words themselves:

- the **request** (希望 / 请求 / 要求 / 建议 / 麻烦 … and what follows) is counted twice, once
  as itself (``q:``), so what a resident asks for outweighs the story around it;
- words in a **denied or feared** clause (没有着火, 万一有小偷, 上次被偷过) are features of
  their own (``n:``), never plain votes for the department they name;
- a letter's **subject line** (标题：…) counts as the request does (``t:``);
- the **keyword table** enters as one feature per department (``k:``, and ``kq:`` for the
  request's keywords): the explainable prior, which the model learns how far to trust.

Each text's vector is scaled to unit length, so a 2,000-character letter and a one-line
chat weigh alike. Confidence is calibrated with a temperature fitted on held-back items.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

MODEL_VERSION = 2

# A clause that asks for something: its words count twice.
REQUEST_MARKERS = (
    "希望", "请求", "要求", "建议", "投诉", "麻烦", "请", "帮忙", "帮助", "能否", "能不能",
    "可否", "尽快", "赶紧", "赶快", "处理", "解决", "整改", "查处", "取缔", "管管", "管一管",
    "来看看", "派人", "恳请", "呼吁", "反映",
)  # fmt: skip
NEGATIONS = ("没有", "没", "不是", "并非", "并没有", "未", "无", "不")
NOT_NOW = (
    "万一", "如果", "要是", "假如", "以防", "防止", "预防", "避免", "担心", "生怕", "容易",
    "上次", "上回", "以前", "去年", "之前", "曾经", "以往",
)  # fmt: skip
SUBJECT_MARKERS = ("标题", "主题", "事由", "关于")

_CLAUSES = re.compile(r"[,.!?;:，。！？；：、\n]+")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def clauses(text: str) -> list[str]:
    return [c for c in _CLAUSES.split(text) if c]


def clause_kind(clause: str) -> str:
    """ "n" for a denied or feared clause, "q" for a request, "" for the story."""
    if clause.startswith(NEGATIONS) or any(word in clause for word in NOT_NOW):
        return "n"
    if any(marker in clause for marker in REQUEST_MARKERS):
        return "q"
    return ""


def _useful(token: str) -> bool:
    return bool(token.strip()) and (bool(_CJK.search(token)) or token.isalnum())


def features(
    text: str,
    tokens: Sequence[str],
    keywords: Mapping[str, float],
    request_keywords: Mapping[str, float],
) -> dict[str, float]:
    """Named features of one normalised text (``tokens`` concatenate to it), unit length.

    ``keywords``: the keyword table's score per department over the whole text;
    ``request_keywords``: the same over the request clauses only.
    """
    found: dict[str, float] = {}
    subject = text.split("\n", 1)[0] if "\n" in text else ""
    subject_line = subject if subject.startswith(SUBJECT_MARKERS) else ""
    # Each token's clause: walk the text and the tokens together.
    clause_of: list[str] = []
    for clause in _CLAUSES.split(text):
        clause_of.append(clause)
    kinds = {clause: clause_kind(clause) for clause in clause_of}
    position = 0
    boundaries = [(m.start(), m.end()) for m in _CLAUSES.finditer(text)]
    clause_index = 0
    for token in tokens:
        while clause_index < len(boundaries) and boundaries[clause_index][1] <= position:
            clause_index += 1
        position += len(token)
        if not _useful(token):
            continue
        clause = clause_of[min(clause_index, len(clause_of) - 1)]
        kind = kinds.get(clause, "")
        if kind == "n":
            found["n:" + token] = 1.0
            continue
        found["w:" + token] = 1.0
        if kind == "q":
            found["q:" + token] = 1.0
    if subject_line:
        for token in tokens:
            if token in subject_line and _useful(token):
                found["t:" + token] = 1.0
    compact = "".join(ch for ch in text if not ch.isspace())
    for i in range(len(compact) - 1):
        pair = compact[i : i + 2]
        if _CJK.search(pair):
            found["b:" + pair] = 1.0
        if _CJK.match(compact[i]):
            found["c:" + compact[i]] = 0.5
    for department, score in keywords.items():
        if score > 0:
            found["k:" + department] = math.log1p(score) * 2
    for department, score in request_keywords.items():
        if score > 0:
            found["kq:" + department] = math.log1p(score) * 2
    norm = math.sqrt(sum(v * v for v in found.values())) or 1.0
    return {name: value / norm for name, value in found.items()}


@dataclass(frozen=True)
class Model:
    """A softmax regression: one weight row per feature, a bias, a temperature."""

    classes: tuple[str, ...]
    index: Mapping[str, int]
    weights: Any  # numpy array (features × classes)
    bias: Any  # numpy array (classes,)
    temperature: float = 1.0

    def probabilities(self, found: Mapping[str, float]) -> dict[str, float]:
        """The calibrated probability of every department for one text's features."""
        rows = [(self.index[name], value) for name, value in found.items() if name in self.index]
        logits = self.bias.copy()
        if rows:
            at = np.fromiter((r for r, _ in rows), dtype=np.int64, count=len(rows))
            values = np.fromiter((v for _, v in rows), dtype=np.float64, count=len(rows))
            logits = logits + values @ self.weights[at]
        scaled = logits / self.temperature
        scaled -= scaled.max()
        exp = np.exp(scaled)
        exp /= exp.sum()
        return dict(zip(self.classes, (float(p) for p in exp), strict=True))

    def to_json(self) -> dict[str, Any]:
        """Only the rows that carry weight: a feature all of whose weights round to 0 is
        dropped, so the stored model stays a few megabytes at most."""
        names = sorted(self.index, key=self.index.__getitem__)
        rounded = np.round(self.weights, 3)
        kept = {
            name: [float(x) for x in rounded[i]]
            for i, name in enumerate(names)
            if np.any(rounded[i])
        }
        return {
            "version": MODEL_VERSION,
            "classes": list(self.classes),
            "bias": [round(float(b), 4) for b in self.bias],
            "temperature": round(self.temperature, 4),
            "weights": kept,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Model:
        if doc.get("version") != MODEL_VERSION:
            raise ValueError(f"not a routing model of version {MODEL_VERSION}")
        classes = tuple(str(c) for c in doc["classes"])
        rows = doc["weights"]
        index = {name: i for i, name in enumerate(rows)}
        weights = np.array(list(rows.values()), dtype=np.float64).reshape(len(rows), len(classes))
        bias = np.array(doc["bias"], dtype=np.float64)
        if bias.shape != (len(classes),):
            raise ValueError("a routing model's bias must have one number per department")
        return cls(classes, index, weights, bias, float(doc.get("temperature", 1.0)))


@dataclass(frozen=True)
class Example:
    features: Mapping[str, float]
    label: str
    weight: float = 1.0


def _matrix(examples: Sequence[Example], index: Mapping[str, int]) -> tuple[Any, Any, Any, Any]:
    """CSR pieces: each nonzero's row, column and value, and the rows' start offsets."""
    rows, cols, vals = [], [], []
    for r, example in enumerate(examples):
        for name, value in example.features.items():
            column = index.get(name)
            if column is not None:
                rows.append(r)
                cols.append(column)
                vals.append(value)
    return (
        np.array(rows, dtype=np.int64),
        np.array(cols, dtype=np.int64),
        np.array(vals, dtype=np.float64),
        len(examples),
    )


def _logits(weights: Any, bias: Any, rows: Any, cols: Any, vals: Any, n: int) -> Any:
    contributions = vals[:, None] * weights[cols]
    out = np.empty((n, weights.shape[1]))
    for c in range(weights.shape[1]):  # bincount per class: far faster than np.add.at
        out[:, c] = np.bincount(rows, weights=contributions[:, c], minlength=n)
    return out + bias


def _softmax(logits: Any) -> Any:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def train(
    examples: Sequence[Example],
    classes: Sequence[str],
    *,
    min_count: int = 2,
    l2: float = 1e-8,
    steps: int = 1200,
    rate: float = 0.5,
    calibrate: Sequence[Example] = (),
) -> Model:
    """Fit the model by full-batch gradient descent with Adam; deterministic.

    Features seen in fewer than ``min_count`` texts are left out (they would only learn the
    texts by heart). ``calibrate``: held-back examples to fit the temperature on.
    """
    classes = tuple(classes)
    label = {c: i for i, c in enumerate(classes)}
    counts: dict[str, int] = {}
    for example in examples:
        for name in example.features:
            counts[name] = counts.get(name, 0) + 1
    names = sorted(name for name, n in counts.items() if n >= min_count)
    index = {name: i for i, name in enumerate(names)}
    kept = [e for e in examples if e.label in label]
    rows, cols, vals, n = _matrix(kept, index)
    targets = np.zeros((n, len(classes)))
    targets[np.arange(n), [label[e.label] for e in kept]] = 1.0
    sample = np.array([e.weight for e in kept], dtype=np.float64)[:, None]
    total = float(sample.sum()) or 1.0
    weights = np.zeros((len(names), len(classes)))
    bias = np.zeros(len(classes))
    moments = [
        np.zeros_like(weights),
        np.zeros_like(weights),
        np.zeros_like(bias),
        np.zeros_like(bias),
    ]
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for step in range(1, steps + 1):
        probs = _softmax(_logits(weights, bias, rows, cols, vals, n))
        error = (probs - targets) * sample / total
        spread = vals[:, None] * error[rows]
        grad_w = np.empty_like(weights)
        for c in range(len(classes)):
            grad_w[:, c] = np.bincount(cols, weights=spread[:, c], minlength=len(names))
        grad_w += l2 * weights
        grad_b = error.sum(axis=0)
        for param, grad, m, v in ((weights, grad_w, 0, 1), (bias, grad_b, 2, 3)):
            moments[m] = beta1 * moments[m] + (1 - beta1) * grad
            moments[v] = beta2 * moments[v] + (1 - beta2) * grad * grad
            m_hat = moments[m] / (1 - beta1**step)
            v_hat = moments[v] / (1 - beta2**step)
            param -= rate * m_hat / (np.sqrt(v_hat) + eps)
    model = Model(classes, index, weights, bias)
    if calibrate:
        model = Model(classes, index, weights, bias, fit_temperature(model, calibrate))
    return model


def fit_temperature(model: Model, examples: Iterable[Example]) -> float:
    """The temperature that makes the held-back examples' probabilities most likely."""
    logits, labels = [], []
    for example in examples:
        if example.label not in model.classes:
            continue
        probs = model.probabilities(example.features)
        logits.append(np.log(np.array([max(probs[c], 1e-12) for c in model.classes])))
        labels.append(model.classes.index(example.label))
    if not logits:
        return 1.0
    base = np.array(logits)
    picked = np.array(labels)

    def nll(t: float) -> float:
        scaled = base / t
        scaled -= scaled.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(scaled).sum(axis=1))
        return float((log_norm - scaled[np.arange(len(picked)), picked]).mean())

    candidates = [0.25 * 1.15**k for k in range(30)]
    return min(candidates, key=nll)
