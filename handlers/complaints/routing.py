"""Route a resident's complaint (诉求) to the department that handles it (分拨).

The taxonomy is data community workers edit (config/complaints.toml). This module
reads it and jieba's user dictionary once, then routes in memory: no database, no
clock, no I/O per complaint. Two layers: the keyword table finds the terms a handler is
shown and is the prior (and, alone, the cold start); over it a calibrated linear model
(``learned.py``, shipped in config/routing_model.json.gz, retrained with workers'
corrections) decides, and sends what it is unsure of to triage with its two best guesses.
Without a model, perceptron weights learned from corrections may still weaken a keyword
but never silence it (stored weights of version 1).
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import math
import re
import threading
import tomllib
import unicodedata
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import Any

from handlers.complaints.learned import Model, clause_kind, clauses
from handlers.complaints.learned import features as learned_features

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
TAXONOMY_TOML = CONFIG_DIR / "complaints.toml"
USER_DICTIONARY = CONFIG_DIR / "community_dict.txt"
# The learned layer trained on config/routing_corpus/ (``linli train-router``).
MODEL_FILE = CONFIG_DIR / "routing_model.json.gz"
CORPUS_DIR = CONFIG_DIR / "routing_corpus"
OTHER = "other"  # the grid worker (网格员) triages what no department clearly owns

DEFAULT_MIN_CONFIDENCE = 0.4
DEFAULT_MODEL_MIN_CONFIDENCE = 0.5
DEFAULT_SMOOTHING = 1.0
DEFAULT_ACCEPT_HOURS = 2.0
DEFAULT_RESOLVE_WORKING_DAYS = 3.0
DEFAULT_EMERGENCY_ACCEPT_MINUTES = 30
WEIGHTS_VERSION = 1

# Learning may lower a department's keyword score to this share of it, never further.
KEYWORD_FLOOR = 0.5
# One learned weight stays within ±this, so no single word can outvote a whole taxonomy.
MAX_LEARNED = 4.0

_RESERVED_TABLES = frozenset({"routing", "emergency"})

# --- normalisation -----------------------------------------------------------------

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TONED = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüêńňǹḿ"
_ANNOTATION = re.compile(
    rf"(?<=[{_CJK}])\s*[(\[]([a-z{_TONED}ɑɡ0-5 '\-]{{1,40}})[)\]]", re.IGNORECASE
)
_INITIAL = "(?:zh|ch|sh|[bpmfdtnlgkhjqxrzcsyw])?"
_FINAL = (
    "(?:iang|iong|uang|ueng|iao|ian|uai|uan|van|ang|eng|ing|ong|ai|ei|ao|ou|an|en|er"
    "|ia|ie|iu|in|ua|uo|ui|un|ue|ve|vn|a|o|e|i|u|v)"
)
_PINYIN = re.compile(f"(?:{_INITIAL}{_FINAL}[1-5]?)+")
_PINYIN_SEPARATORS = re.compile(r"[\s'\-]+")
_HAS_TONE = re.compile(f"[{_TONED}1-5]", re.IGNORECASE)

# Words voice recognition (语音识别) leaves in: dropped only as whole jieba tokens, so
# 金额 keeps its 额 and 干嘛 its 嘛.
FILLERS = frozenset(
    {
        "嗯", "嗯嗯", "啊", "啊啊", "呃", "额", "哎", "唉", "哦", "噢", "哎呀", "嘛",
        "那个", "就是", "就是说", "然后", "怎么说呢", "对吧",
    }
)  # fmt: skip
# Filler phrases jieba would otherwise split (就是说 → 就是 / 说).
_FILLER_PHRASES = ("就是说", "怎么说呢")

# Words too common in complaints to teach the router anything.
_STOPWORDS = frozenset(
    {
        "我们", "你们", "他们", "她们", "我家", "他家", "咱们", "自己", "大家", "有人", "别人",
        "这里", "那里", "这边", "那边", "哪里", "什么", "怎么", "怎么办", "为什么", "是不是",
        "能不能", "可不可以", "可以", "没有", "不是", "还是", "已经", "一直", "总是", "老是",
        "经常", "天天", "每天", "每次", "现在", "今天", "昨天", "最近", "晚上", "早上", "中午",
        "半夜", "时候", "一下", "一点", "好几", "好多", "很多", "特别", "非常", "真的", "实在",
        "根本", "问题", "情况", "事情", "反映", "希望", "麻烦", "谢谢", "请问", "小区", "社区",
        "楼下", "门口", "附近", "旁边", "下面", "上面", "里面", "外面", "家里", "一个", "两个",
        "几个", "这样", "那样", "几天", "好几天", "越来越", "一些", "有点", "还有", "而且",
        "但是", "因为", "所以", "如果", "结果", "以后", "之前", "出来",
    }
)  # fmt: skip

_CLAUSE_BREAK = re.compile(r"[,.!?;:，。！？；：、\s]")
# An emergency term right after one of these is denied (没有着火, 不是煤气味) …
_NEGATIONS = ("没有", "没", "不是", "并非", "未", "无", "不")
# … and one in a clause with these is a worry or a memory, not happening now.
_NOT_NOW = (
    "万一", "如果", "要是", "假如", "以防", "防止", "预防", "避免", "担心", "生怕", "容易",
    "上次", "上回", "以前", "去年", "之前", "曾经",
)  # fmt: skip
# A term followed by these names a risk or a device, not an event (火灾隐患, 燃气泄漏报警器).
_NOT_EVENT_AFTER = ("隐患", "风险", "演练", "演习", "报警器", "预防", "知识")

_SPACES = re.compile(r"\s+")


@cache
def _converter() -> Any:
    """One OpenCC t2s converter per process (繁→简), created on first use."""
    import opencc

    return opencc.OpenCC("t2s")


def _canon(text: str) -> str:
    """Full-width to half-width, case-folded, traditional to simplified."""
    return _converter().convert(unicodedata.normalize("NFKC", text).casefold())


def _is_pinyin(annotation: str) -> bool:
    """True for "diàn tī", "dian4", "lǜ": syllables, with a tone or more than one letter."""
    plain = "".join(
        c
        for c in unicodedata.normalize("NFD", annotation.casefold())
        if unicodedata.category(c) != "Mn"
    )
    # ü loses its diaeresis here too: lü → lu, still a syllable to _PINYIN.
    plain = plain.replace("ɑ", "a").replace("ɡ", "g")
    chunks = [c for c in _PINYIN_SEPARATORS.split(plain.strip()) if c]
    if not chunks or not all(_PINYIN.fullmatch(c) for c in chunks):
        return False
    return bool(_HAS_TONE.search(annotation)) or sum(map(len, chunks)) >= 2


def strip_pinyin(text: str) -> str:
    """Remove pinyin annotations that copied web text carries: 電(diàn)梯(tī) → 電梯."""
    return _ANNOTATION.sub(lambda m: "" if _is_pinyin(m.group(1)) else m.group(0), text)


# --- jieba, once per process -------------------------------------------------------

_jieba_lock = threading.Lock()
_jieba_lcut: Callable[[str], list[str]] | None = None
_loaded_dictionaries: set[Path] = set()


def _dictionary_lines(path: Path) -> str:
    """The user dictionary without its comment lines (jieba has no comment syntax)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return "\n".join(ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#"))


def segmenter(user_dictionary: Path | None = USER_DICTIONARY) -> Callable[[str], list[str]]:
    """jieba's lcut, initialised once per process, each user dictionary loaded once.

    jieba is global state: loading takes ~0.7 s, so it happens at start-up (building a
    Router), never per message. Segmentation runs without HMM new-word guessing: unknown
    runs fall apart into characters, so 吵得 yields the word 吵 and keywords stay findable.
    """
    global _jieba_lcut
    with _jieba_lock:
        if _jieba_lcut is None:
            with warnings.catch_warnings():
                # pkg_resources and invalid escapes inside jieba: its noise, not ours.
                warnings.filterwarnings("ignore", category=SyntaxWarning)
                warnings.filterwarnings("ignore", category=DeprecationWarning)
                warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
                import jieba
            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            for phrase in _FILLER_PHRASES:
                jieba.add_word(phrase, freq=jieba.suggest_freq(phrase) + 10)
            _jieba_lcut = partial(jieba.lcut, HMM=False)
        if user_dictionary is not None:
            key = Path(user_dictionary).resolve()
            if key not in _loaded_dictionaries:
                import jieba

                jieba.load_userdict(io.StringIO(_dictionary_lines(key)))
                _loaded_dictionaries.add(key)
        return _jieba_lcut


def _prepare(
    text: str, lcut: Callable[[str], list[str]], glossary: Mapping[str, str] | None = None
) -> tuple[str, list[str]]:
    """The normalised text and its tokens; the tokens concatenate to exactly the text.

    ``glossary``: English and pinyin words replaced by the Chinese they stand for."""
    text = _converter().convert(strip_pinyin(unicodedata.normalize("NFKC", text).casefold()))
    tokens: list[str] = []
    for token in lcut(text):
        if token in FILLERS:
            continue
        if glossary and token.isascii():
            token = glossary.get(token, token)
        if token.isspace():
            if tokens and tokens[-1] != " ":
                tokens.append(" ")
            continue
        tokens.append(token)
    if tokens and tokens[-1] == " ":
        tokens.pop()
    return "".join(tokens), tokens


def normalize(text: str) -> str:
    """The text as the router reads it.

    Full-width to half-width (NFKC), case-folded, pinyin annotations stripped, traditional
    to simplified (OpenCC t2s), voice-recognition fillers (嗯, 那个, 就是说) dropped as
    whole words, whitespace collapsed.
    """
    return _prepare(text, segmenter())[0]


# --- the taxonomy ------------------------------------------------------------------


@dataclass(frozen=True)
class Department:
    """A department that takes complaints, with the deadlines its tickets get."""

    key: str
    name: str
    keywords: tuple[tuple[str, float], ...]  # normalised term, weight
    accept_hours: float = DEFAULT_ACCEPT_HOURS
    resolve_working_days: float = DEFAULT_RESOLVE_WORKING_DAYS


@dataclass(frozen=True)
class EmergencyKind:
    """An emergency (应急) and the number the resident must call now."""

    kind: str  # fire, police, ambulance
    number: str
    terms: tuple[str, ...]
    unless: tuple[str, ...] = ()


@dataclass(frozen=True)
class Taxonomy:
    """Parsed config/complaints.toml: departments in file order, emergencies by priority."""

    departments: tuple[Department, ...]
    emergencies: tuple[EmergencyKind, ...]
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    smoothing: float = DEFAULT_SMOOTHING
    emergency_accept_minutes: float = DEFAULT_EMERGENCY_ACCEPT_MINUTES
    user_dictionary: Path | None = USER_DICTIONARY
    neutral: tuple[str, ...] = ()  # phrases that only hide the keywords inside them
    # The learned layer's calibrated probability below which a complaint goes to triage.
    model_min_confidence: float = DEFAULT_MODEL_MIN_CONFIDENCE
    # English and pinyin words, read as the Chinese they stand for (whole words only).
    glossary: Mapping[str, str] = field(default_factory=dict)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(d.key for d in self.departments)

    def department(self, key: str) -> Department:
        for department in self.departments:
            if department.key == key:
                return department
        raise KeyError(key)


def _number(value: object, name: str, *, positive: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a number, not {value!r}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be above 0, not {value!r}")
    return float(value)


def _keyword(entry: object, where: str) -> tuple[str, float]:
    """ "term" or "term:weight" → (normalised term, weight)."""
    if not isinstance(entry, str):
        raise ValueError(f"{where}: a keyword must be a string, not {entry!r}")
    term, weight = entry, 1.0
    head, sep, tail = unicodedata.normalize("NFKC", entry).rpartition(":")
    if sep:
        try:
            weight = float(tail)
        except ValueError:
            raise ValueError(f"{where}: weight of {entry!r} is not a number") from None
        term = head
        _number(weight, f"{where}: weight of {entry!r}")
    term = _canon(term).strip()
    if not term:
        raise ValueError(f"{where}: empty keyword in {entry!r}")
    return term, weight


def _strings(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"{where} must be a list of words")
    return tuple(_canon(v).strip() for v in value)


def taxonomy_from_mapping(doc: Mapping[str, Any], base_dir: Path = CONFIG_DIR) -> Taxonomy:
    """A Taxonomy from parsed TOML, with a ValueError naming the table that is wrong."""
    routing = doc.get("routing", {})
    emergency = doc.get("emergency", {})
    if not isinstance(routing, Mapping) or not isinstance(emergency, Mapping):
        raise ValueError("[routing] and [emergency] must be tables")
    departments = []
    for key, table in doc.items():
        if key in _RESERVED_TABLES:
            continue
        if not isinstance(table, Mapping):
            raise ValueError(f"{key} must be a table with name and keywords")
        where = f"[{key}]"
        name = table.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{where} needs a name")
        keywords: dict[str, float] = {}
        for entry in table.get("keywords", []):
            term, weight = _keyword(entry, where)
            if term in keywords:
                raise ValueError(f"{where}: keyword {term!r} is listed twice")
            keywords[term] = weight
        departments.append(
            Department(
                key=key,
                name=name.strip(),
                keywords=tuple(keywords.items()),
                accept_hours=_number(
                    table.get("accept_hours", DEFAULT_ACCEPT_HOURS), f"{where} accept_hours"
                ),
                resolve_working_days=_number(
                    table.get("resolve_working_days", DEFAULT_RESOLVE_WORKING_DAYS),
                    f"{where} resolve_working_days",
                ),
            )
        )
    if OTHER not in {d.key for d in departments}:
        raise ValueError(f"the taxonomy needs an [{OTHER}] table: triage by the grid worker")
    kinds = []
    for kind, table in emergency.items():
        if kind == "accept_minutes":
            continue
        where = f"[emergency.{kind}]"
        if not isinstance(table, Mapping) or not isinstance(table.get("number"), str):
            raise ValueError(f"{where} needs a number to call")
        kinds.append(
            EmergencyKind(
                kind=kind,
                number=table["number"],
                terms=_strings(table.get("terms"), f"{where} terms"),
                unless=_strings(table.get("unless", []), f"{where} unless"),
            )
        )
    min_confidence = _number(
        routing.get("min_confidence", DEFAULT_MIN_CONFIDENCE), "min_confidence", positive=False
    )
    if not 0 <= min_confidence < 1:
        raise ValueError(f"min_confidence must be in [0, 1), not {min_confidence}")
    dictionary = routing.get("user_dictionary", USER_DICTIONARY.name)
    return Taxonomy(
        departments=tuple(departments),
        emergencies=tuple(kinds),
        min_confidence=min_confidence,
        smoothing=_number(routing.get("smoothing", DEFAULT_SMOOTHING), "smoothing"),
        emergency_accept_minutes=_number(
            emergency.get("accept_minutes", DEFAULT_EMERGENCY_ACCEPT_MINUTES),
            "emergency accept_minutes",
        ),
        user_dictionary=base_dir / dictionary if dictionary else None,
        neutral=_strings(routing.get("neutral", []), "[routing] neutral"),
        model_min_confidence=_model_min_confidence(routing),
        glossary=_glossary(routing.get("glossary", {})),
    )


def _glossary(table: object) -> dict[str, str]:
    if not isinstance(table, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in table.items()
    ):
        raise ValueError("[routing.glossary] maps words to the Chinese they stand for")
    return {k.casefold(): _canon(v).strip() for k, v in table.items()}


def _model_min_confidence(routing: Mapping[str, Any]) -> float:
    value = _number(
        routing.get("model_min_confidence", DEFAULT_MODEL_MIN_CONFIDENCE),
        "model_min_confidence",
        positive=False,
    )
    if not 0 <= value < 1:
        raise ValueError(f"model_min_confidence must be in [0, 1), not {value}")
    return value


def load_taxonomy(path: Path | str | None = None) -> Taxonomy:
    """Read config/complaints.toml (or ``path``); the user dictionary is found beside it."""
    path = Path(path) if path is not None else TAXONOMY_TOML
    with path.open("rb") as fh:
        doc = tomllib.load(fh)
    return taxonomy_from_mapping(doc, path.resolve().parent)


# --- routing -----------------------------------------------------------------------


@dataclass(frozen=True)
class Routing:
    """Where a complaint goes, how sure we are, and why (the terms shown to the handler).

    ``department`` is "other" when nothing matched, the best guess is weaker than
    min_confidence, or two departments tie; ``guess`` then keeps the department the terms
    point to, and ``confidence`` is that guess's. ``emergency`` is the first emergency
    kind found (fire, police, ambulance), whatever the department; ``emergency_numbers``
    has the numbers of every kind found, in priority order.
    """

    department: str
    confidence: float
    terms: tuple[str, ...]
    emergency: str | None = None
    emergency_numbers: tuple[str, ...] = ()
    guess: str | None = None
    emergency_terms: tuple[str, ...] = ()
    # The two best departments and their probabilities: what the triaging worker is shown.
    candidates: tuple[tuple[str, float], ...] = ()
    # Sent to triage because no department was sure enough (not because it is "other").
    triage: bool = False
    # Some keyword of the table was found: the text reads like a complaint at all.
    matched: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of `linli route`."""
        return {
            "department": self.department,
            "confidence": round(self.confidence, 3),
            "terms": list(self.terms),
            "emergency": self.emergency,
            "emergency_numbers": list(self.emergency_numbers),
            "guess": self.guess,
            "triage": self.triage,
            "candidates": [[d, round(p, 3)] for d, p in self.candidates],
        }


@dataclass(frozen=True)
class _Evidence:
    """What the keyword router found in one text, before learned weights."""

    text: str
    base: dict[str, float]
    support: dict[str, list[tuple[int, str]]]
    features: frozenset[str]
    tokens: tuple[str, ...] = ()  # jieba's cut of ``text``, for the learned layer


class Router:
    """Keyword scoring over jieba tokens, with weights learned from corrections on top.

    Immutable once built: retraining returns a new Router, so a service can swap the
    one it uses in a single assignment while requests keep routing.
    """

    def __init__(
        self,
        taxonomy: Taxonomy,
        learned: Mapping[str, Mapping[str, float]] | None = None,
        model: Model | None = None,
    ) -> None:
        self.taxonomy = taxonomy
        # The learned layer (handlers/complaints/learned.py); None: keywords alone.
        self.model = model if model is None or set(model.classes) <= set(taxonomy.keys) else None
        self._lcut = segmenter(taxonomy.user_dictionary)
        self._order = {key: i for i, key in enumerate(taxonomy.keys)}
        weights: dict[str, list[tuple[str, float]]] = {}
        for department in taxonomy.departments:
            for term, weight in department.keywords:
                weights.setdefault(term, []).append((department.key, weight))
        for term in taxonomy.neutral:
            weights.setdefault(term, [])
        self._weights = {term: tuple(pairs) for term, pairs in weights.items()}
        # One-character keywords count only as words of their own (see _single_word);
        # longer ones are looked up by their first character, to skip most of the list.
        self._single = frozenset(t for t in self._weights if len(t) == 1)
        by_first: dict[str, list[str]] = {}
        for term in self._weights:
            if len(term) > 1:
                by_first.setdefault(term[0], []).append(term)
        self._by_first = {ch: tuple(terms) for ch, terms in by_first.items()}
        self._learned: dict[str, dict[str, float]] = {}
        for feature, row in (learned or {}).items():
            kept = {d: float(v) for d, v in row.items() if d in self._order and v}
            if kept:
                self._learned[feature] = kept

    @classmethod
    def from_config(cls, path: Path | str | None = None) -> Router:
        """The keyword router of config/complaints.toml (or ``path``), nothing learned."""
        return cls(load_taxonomy(path))

    # --- scoring ---

    def _evidence(self, text: str) -> _Evidence:
        norm, tokens = _prepare(text, self._lcut, self.taxonomy.glossary)
        found: list[tuple[int, int, str]] = []
        bounds = {0}
        position = 0
        seen_single: set[str] = set()
        for token in tokens:
            single = _single_word(token)
            if single in self._single and single not in seen_single:
                seen_single.add(single)
                start = position + token.index(single)
                found.append((start, start + 1, single))
            position += len(token)
            bounds.add(position)
        for ch in set(norm):
            for term in self._by_first.get(ch, ()):
                start = norm.find(term)
                # A keyword may sit inside a word (高龄 in 高龄补贴) but not cut two words
                # in half (防水 in 消防|水池).
                while start >= 0 and start not in bounds and start + len(term) not in bounds:
                    start = norm.find(term, start + 1)
                if start >= 0:
                    found.append((start, start + len(term), term))
        # A keyword inside a longer matched keyword (楼上 in 楼上渗水) does not count again.
        matches = [
            (start, term)
            for start, end, term in found
            if not any(s <= start and end <= e and e - s > end - start for s, e, _ in found)
        ]
        base: dict[str, float] = {}
        support: dict[str, list[tuple[int, str]]] = {}
        for start, term in matches:
            for department, weight in self._weights[term]:
                base[department] = base.get(department, 0.0) + weight
                support.setdefault(department, []).append((start, term))
        features = {t for t in tokens if _is_feature(t)} | {term for _, term in matches}
        return _Evidence(norm, base, support, frozenset(features), tuple(tokens))

    def _scores(
        self, evidence: _Evidence, learned: Mapping[str, Mapping[str, float]]
    ) -> dict[str, float]:
        if not learned:
            return dict(evidence.base)
        added: dict[str, float] = {}
        for feature in evidence.features:
            for department, delta in learned.get(feature, {}).items():
                added[department] = added.get(department, 0.0) + delta
        scores = {}
        for department in evidence.base.keys() | added.keys():
            base = evidence.base.get(department, 0.0)
            scores[department] = max(base + added.get(department, 0.0), KEYWORD_FLOOR * base)
        return scores

    def _ranked(self, scores: Mapping[str, float]) -> list[str]:
        """Departments with a positive score, best first (ties in table order)."""
        positive = [d for d, s in scores.items() if s > 0]
        return sorted(positive, key=lambda d: (-scores[d], self._order[d]))

    def _decide(self, scores: Mapping[str, float]) -> tuple[str, float, str | None]:
        """(department, confidence, best guess): top / (top + second + smoothing).

        A tie is no decision, however much evidence each side has: it goes to triage.
        """
        ranked = self._ranked(scores)
        if not ranked:
            return OTHER, 0.0, None
        top = scores[ranked[0]]
        second = scores[ranked[1]] if len(ranked) > 1 else 0.0
        confidence = top / (top + second + self.taxonomy.smoothing)
        if confidence < self.taxonomy.min_confidence or math.isclose(top, second):
            return OTHER, confidence, ranked[0]
        return ranked[0], confidence, ranked[0]

    def _emergency(self, text: str) -> tuple[list[EmergencyKind], list[str]]:
        kinds: list[EmergencyKind] = []
        terms: list[str] = []
        for kind in self.taxonomy.emergencies:
            if any(word in text for word in kind.unless):
                continue
            hits = [t for t in kind.terms if _happening(text, t)]
            if hits:
                kinds.append(kind)
                terms.extend(t for t in hits if t not in terms)
        return kinds, terms

    def route(self, text: str) -> Routing:
        """The department for one complaint, its confidence, the terms, and any emergency."""
        evidence = self._evidence(text)
        scores = self._scores(evidence, self._learned)
        department, confidence, guess = self._decide(scores)
        candidates: tuple[tuple[str, float], ...] = ()
        triage = department == OTHER and guess not in (None, OTHER)
        if self.model is not None:
            department, confidence, guess, candidates = self._learned_decision(text, evidence)
            # Unsure, whatever the guess (an unsure "other" too): the grid worker decides.
            triage = confidence < self.taxonomy.model_min_confidence
        terms: list[tuple[int, str]] = list(evidence.support.get(guess, [])) if guess else []
        if guess and self._learned:
            for feature in evidence.features:
                if self._learned.get(feature, {}).get(guess, 0.0) > 0:
                    terms.append((evidence.text.find(feature), feature))
        ordered = tuple(dict.fromkeys(term for _, term in sorted(terms)))
        kinds, emergency_terms = self._emergency(evidence.text)
        return Routing(
            department=department,
            confidence=confidence,
            terms=ordered,
            emergency=kinds[0].kind if kinds else None,
            emergency_numbers=tuple(dict.fromkeys(k.number for k in kinds)),
            guess=guess,
            emergency_terms=tuple(emergency_terms),
            candidates=candidates,
            triage=triage,
            matched=bool(evidence.base),
        )

    def features(self, text: str, evidence: _Evidence | None = None) -> dict[str, float]:
        """The learned layer's features of one text (``learned.features``)."""
        evidence = evidence or self._evidence(text)
        request = "，".join(c for c in clauses(evidence.text) if clause_kind(c) == "q")
        asked = self._evidence(request).base if request else {}
        return learned_features(evidence.text, evidence.tokens, evidence.base, asked)

    def _learned_decision(
        self, text: str, evidence: _Evidence
    ) -> tuple[str, float, str, tuple[tuple[str, float], ...]]:
        """(department, confidence, best guess, the two best) from the calibrated model.

        Below the taxonomy's ``model_min_confidence`` the complaint goes to triage (the
        grid worker), who sees the two best guesses."""
        assert self.model is not None
        probabilities = self.model.probabilities(self.features(text, evidence))
        ranked = sorted(probabilities, key=lambda d: (-probabilities[d], self._order[d]))
        best = ranked[0]
        candidates = tuple((d, probabilities[d]) for d in ranked[:2])
        confidence = probabilities[best]
        if confidence < self.taxonomy.model_min_confidence:
            return OTHER, confidence, best, candidates
        return best, confidence, best, candidates

    # --- learning from corrections ---

    def with_corrections(
        self,
        corrections: Iterable[tuple[str, str]],
        *,
        epochs: int = 20,
        rate: float = 0.5,
        margin: float = 0.15,
    ) -> Router:
        """A new Router that also learned from workers' reassignments (text, right department).

        A perceptron over the words of each text (its tokens and matched keywords): while a
        corrected text does not route right with ``margin`` to spare above min_confidence,
        its words gain ``rate`` toward the right department and lose it toward the rival
        that beat it. The margin lets a lesson reach texts that share most of the words,
        not only the very text corrected. It starts from this router's learned weights; to
        retrain from scratch, call it on the plain keyword router. Corrections to a
        department the taxonomy no longer has are skipped.
        """
        examples = [
            (self._evidence(text), right)
            for text, right in corrections
            if right in self._order and text and text.strip()
        ]
        learned = {feature: dict(row) for feature, row in self._learned.items()}
        target = min(self.taxonomy.min_confidence + margin, 0.95)
        for _ in range(epochs):
            mistakes = 0
            for evidence, right in examples:
                scores = self._scores(evidence, learned)
                department, confidence, _ = self._decide(scores)
                if not evidence.features or (department == right and confidence >= target):
                    continue
                mistakes += 1
                rivals = [d for d in self._ranked(scores) if d != right]
                for feature in evidence.features:
                    row = learned.setdefault(feature, {})
                    row[right] = min(row.get(right, 0.0) + rate, MAX_LEARNED)
                    if rivals:
                        row[rivals[0]] = max(row.get(rivals[0], 0.0) - rate, -MAX_LEARNED)
            if not mistakes:
                break
        return Router(self.taxonomy, learned, self.model)

    def with_model(self, model: Model | None) -> Router:
        """This router with another learned layer (or none: the keyword table alone)."""
        return Router(self.taxonomy, self._learned, model)

    def weights_to_json(self) -> str:
        """The learned weights as JSON, to store; with_weights_json reads them back."""
        weights = {
            feature: {d: round(v, 4) for d, v in sorted(row.items()) if round(v, 4)}
            for feature, row in sorted(self._learned.items())
        }
        return json.dumps(
            {"version": WEIGHTS_VERSION, "weights": {f: r for f, r in weights.items() if r}},
            ensure_ascii=False,
            sort_keys=True,
        )

    def with_weights_json(self, data: str | bytes | Mapping[str, Any]) -> Router:
        """This router's taxonomy with stored learned weights instead of its own.

        Weights for departments the taxonomy no longer has are dropped, so editing the
        taxonomy never breaks loading.
        """
        doc = json.loads(data) if isinstance(data, str | bytes) else data
        if not isinstance(doc, Mapping) or doc.get("version") != WEIGHTS_VERSION:
            raise ValueError(f"not routing weights of version {WEIGHTS_VERSION}")
        weights = doc.get("weights")
        if not isinstance(weights, Mapping):
            raise ValueError("routing weights lack their 'weights' table")
        learned: dict[str, dict[str, float]] = {}
        for feature, row in weights.items():
            if not isinstance(feature, str) or not isinstance(row, Mapping):
                raise ValueError(f"bad routing weights for {feature!r}")
            learned[feature] = {
                str(d): _number(v, f"weight of {feature!r}", positive=False) for d, v in row.items()
            }
        return Router(self.taxonomy, learned, self.model)

    @classmethod
    def from_json(
        cls, data: str | bytes | Mapping[str, Any], path: Path | str | None = None
    ) -> Router:
        """The keyword router of the config (or ``path``) with stored learned weights."""
        return cls.from_config(path).with_weights_json(data)

    @property
    def learned_features(self) -> int:
        """How many words carry learned weights (0 for the plain keyword router)."""
        return len(self._learned)


# jieba keeps 脏得, 好臭, 漏了 as words: the one-character keyword inside still counts.
_PARTICLES_AFTER = frozenset("得了的着过死")
_ADVERBS_BEFORE = frozenset("好很太真超")


def _single_word(token: str) -> str:
    """The one-character word a token stands for: 脏得 → 脏, 好臭 → 臭, else the token."""
    if len(token) == 2:
        if token[1] in _PARTICLES_AFTER:
            return token[0]
        if token[0] in _ADVERBS_BEFORE:
            return token[1]
    return token


def _is_feature(token: str) -> bool:
    """Words worth learning from: two or more characters, Chinese, not filler-common."""
    return (
        len(token) >= 2
        and token not in _STOPWORDS
        and all("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in token)
    )


def _happening(text: str, term: str) -> bool:
    """True if ``term`` occurs at least once as a present event, not denied or feared."""
    start = text.find(term)
    while start >= 0:
        clause = _CLAUSE_BREAK.split(text[:start])[-1]
        after = text[start + len(term) :]
        if not (
            clause.endswith(_NEGATIONS)
            or any(word in clause for word in _NOT_NOW)
            or after.startswith(_NOT_EVENT_AFTER)
        ):
            return True
        start = text.find(term, start + 1)
    return False


def shipped_model(path: Path = MODEL_FILE) -> Model | None:
    """The model trained on the project's corpus (``linli train-router``), if shipped."""
    if not path.exists():
        return None
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return Model.from_json(json.load(fh))


@cache
def default_router() -> Router:
    """The router of config/complaints.toml with the shipped model, built once per process."""
    return Router.from_config().with_model(shipped_model())
