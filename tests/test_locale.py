"""Every message id the code uses is translated, with the same placeholders, in every language."""

from __future__ import annotations

import ast
import string
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from config.settings import MENU_TOML, load_menu
from handlers.i18n import FALLBACK, LANGUAGES, Translator, po_path

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIRS = ("bot", "handlers", "config")
# How the code translates: ctx.t("id", ...), N_("id"), translator(language, "id", ...).
# Refusals carry their id too: Refused("id", status, ...).
KEYWORDS: dict[str, tuple[int, ...] | None] = {
    "t": None,
    "N_": None,
    "translate": (2,),
    "SignInRefused": (1,),
    "Refused": (1,),
    "error_response": (3,),
}
# Position of the message id among each keyword's arguments (0-based), for the AST pass.
ID_ARG = {
    "t": 0,
    "N_": 0,
    "translate": 1,
    "SignInRefused": 0,
    "Refused": 0,
    "error_response": 2,
}
# The Translator's own fallback for an unknown id (an assignment, not a call).
IMPLICIT_IDS = {"error.internal"}
MIN_IDS = 30


def source_files() -> list[Path]:
    return sorted(p for d in SOURCE_DIRS for p in (ROOT / d).rglob("*.py"))


@cache
def babel_ids() -> frozenset[str]:
    """What ``pybabel extract -k t -k N_ -k translate:2`` would find."""
    found = set()
    for directory in SOURCE_DIRS:
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / directory,
            method_map=[("**.py", "python")],
            keywords=KEYWORDS,
            comment_tags=(),
        ):
            found.add(message if isinstance(message, str) else message[0])
    return frozenset(found)


def _callee(node: ast.Call) -> str:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return ""


def _literals(node: ast.expr) -> tuple[list[str], bool]:
    """The string ids an argument can evaluate to, and whether it is one plain literal."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value], True
    if isinstance(node, ast.IfExp):  # ctx.t("a" if x else "b")
        body, _ = _literals(node.body)
        orelse, _ = _literals(node.orelse)
        return body + orelse, False
    return [], False


@cache
def trees() -> tuple[tuple[Path, ast.Module], ...]:
    return tuple(
        (path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        for path in source_files()
    )


def _id_args() -> list[tuple[ast.Call, ast.expr, Path]]:
    found = []
    for path, tree in trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _callee(node) in ID_ARG:
                position = ID_ARG[_callee(node)]
                if len(node.args) > position:
                    found.append((node, node.args[position], path))
    return found


# Keyword arguments of the refusal helpers that are not message placeholders.
NOT_PLACEHOLDERS = frozenset({"headers", "retry_after"})


@cache
def code_calls() -> tuple[tuple[str, bool, frozenset[str] | None, str], ...]:
    """(id, plain literal?, keyword argument names, where) for every translate call."""
    calls = []
    for node, arg, path in _id_args():
        ids, plain = _literals(arg)
        # N_ only marks an id for a later t(); the placeholders are filled there.
        names = (
            None
            if _callee(node) == "N_"
            else frozenset(
                k.arg for k in node.keywords if k.arg is not None and k.arg not in NOT_PLACEHOLDERS
            )
        )
        where = f"{path.relative_to(ROOT)}:{node.lineno}"
        calls.extend((msgid, plain, names, where) for msgid in ids)
    return tuple(calls)


@cache
def nested_literals() -> frozenset[str]:
    """Strings inside computed ids (``t(NAMES[data["category"]])``): Babel takes these too."""
    return frozenset(
        n.value
        for _node, arg, _path in _id_args()
        if not _literals(arg)[1]
        for n in ast.walk(arg)
        if isinstance(n, ast.Constant) and isinstance(n.value, str)
    )


@cache
def referenced() -> tuple[frozenset[str], frozenset[str]]:
    """Every string literal in the code, and the literal heads of f-strings (``f"a.{x}"``)."""
    literals, prefixes = set(), set()
    for _path, tree in trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                literals.add(node.value)
            elif isinstance(node, ast.JoinedStr) and node.values:
                head = node.values[0]
                if isinstance(head, ast.Constant) and isinstance(head.value, str):
                    prefixes.add(head.value)
    return frozenset(literals), frozenset(p for p in prefixes if "." in p)


def menu_ids() -> set[str]:
    return {item.label for item in load_menu(MENU_TOML)}


@cache
def required_ids() -> frozenset[str]:
    return frozenset({c[0] for c in code_calls()} | menu_ids() | IMPLICIT_IDS)


@cache
def catalogue(language: str) -> Catalog:
    with po_path(language).open("rb") as fh:
        return read_po(fh, locale=None, domain="linli")


@cache
def all_ids() -> frozenset[str]:
    """The used ids and whatever else the reference catalogue holds."""
    return required_ids() | {m.id for m in catalogue(FALLBACK) if m.id}


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


# --- the extraction itself --------------------------------------------------------------------


def test_extraction_finds_the_ids_the_code_uses():
    ids = required_ids()
    assert len(ids) >= MIN_IDS, sorted(ids)
    # A few that must be there, from each kind of call.
    assert {"bind.ok", "bind.used", "role.admin", "error.busy", "menu.bind"} <= ids
    assert {"common.yes", "common.no", "help.cancelled", "help.nothing_to_cancel"} <= ids


def test_babel_and_the_ast_pass_agree_on_plain_literals():
    """The AST pass exists for ``t("a" if x else "b")``, which Babel glues into one id."""
    plain = {msgid for msgid, is_plain, _, _ in code_calls() if is_plain}
    assert len(plain) >= MIN_IDS - 10
    assert plain <= babel_ids()
    conditional = {msgid for msgid, is_plain, _, _ in code_calls() if not is_plain}
    # Whatever else Babel finds is a glued conditional or a literal inside a computed id,
    # never an id the AST pass missed.
    for extra in babel_ids() - required_ids():
        glued = any(extra.startswith(msgid) for msgid in conditional)
        assert glued or extra in nested_literals(), extra


def test_menu_labels_are_message_ids():
    labels = menu_ids()
    assert len(labels) == len(load_menu(MENU_TOML)) >= 4
    assert all(label.startswith("menu.") for label in labels)


# --- completeness -----------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_used_id_is_translated(language):
    messages = catalogue(language)
    missing = sorted(i for i in required_ids() if i not in messages)
    empty = sorted(i for i in all_ids() if i in messages and not messages[i].string)
    fuzzy = sorted(i for i in all_ids() if i in messages and messages[i].fuzzy)
    assert not missing, f"{language}: missing {missing}"
    assert not empty, f"{language}: untranslated {empty}"
    assert not fuzzy, f"{language}: fuzzy {fuzzy}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_stale_ids_in_the_catalogue(language):
    """Every catalogue id still appears in the code (as a literal, or an f-string's head)."""
    literals, prefixes = referenced()
    stale = sorted(
        m.id
        for m in catalogue(language)
        if m.id
        and m.id not in literals
        and m.id not in menu_ids()
        and not any(m.id.startswith(p) for p in prefixes)
    )
    assert not stale, f"{language}: unused {stale}"


def test_catalogues_hold_the_same_ids():
    reference = {m.id for m in catalogue(FALLBACK) if m.id}
    for language in LANGUAGES:
        assert {m.id for m in catalogue(language) if m.id} == reference, language


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != FALLBACK])
def test_placeholders_match_zh_hans(language):
    reference = catalogue(FALLBACK)
    messages = catalogue(language)
    for msgid in sorted(all_ids()):
        expected = placeholders(reference[msgid].string)
        assert placeholders(messages[msgid].string) == expected, f"{language} {msgid}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_translation_formats(language):
    for msgid in sorted(all_ids()):
        text = catalogue(language)[msgid].string
        params = {name: f"<{name}>" for name in placeholders(text)}
        formatted = text.format(**params)
        assert "{" not in formatted and "}" not in formatted, f"{language} {msgid}"
        for name in params:
            assert f"<{name}>" in formatted


def test_call_sites_pass_exactly_the_placeholders():
    """``ctx.t("bind.ok", household=...)`` must fill every {name}, and nothing else."""
    reference = catalogue(FALLBACK)
    checked = 0
    for msgid, _plain, names, where in code_calls():
        if msgid not in reference or names is None:
            continue
        expected = placeholders(reference[msgid].string)
        if names or expected:
            assert set(names) == expected, f"{where}: {msgid} takes {sorted(expected)}"
            checked += 1
    assert checked >= 3


# --- the translator at run time ---------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_translator_returns_each_catalogue_text(language):
    translate = Translator()
    for msgid in sorted(required_ids()):
        text = catalogue(language)[msgid].string
        params = {name: "X" for name in placeholders(text)}
        assert translate(language, msgid, **params) == text.format(**params)


def test_translator_falls_back_to_zh_hans_then_to_error_internal(tmp_path, caplog):
    for language, body in {
        "zh_Hans": 'msgid "a"\nmsgstr "甲"\n\nmsgid "error.internal"\nmsgstr "出错"\n',
        "zh_Hant": 'msgid "a"\nmsgstr ""\n',
        "en": 'msgid "error.internal"\nmsgstr "oops"\n',
    }.items():
        path = po_path(language, tmp_path)
        path.parent.mkdir(parents=True)
        path.write_text(body, encoding="utf-8")
    translate = Translator(tmp_path)
    assert translate("zh_Hant", "a") == "甲"  # untranslated → zh_Hans
    assert translate("en", "a") == "甲"  # missing → zh_Hans
    assert translate("xx", "a") == "甲"  # unknown language → zh_Hans
    assert translate("en", "nope") == "出错"
    assert "missing message id nope" in caplog.text
