"""Resident-facing text from the gettext catalogues in ``locale/``.

Message ids are symbolic (``bind.ok``) and every language, zh_Hans included, is
a translation; Babel compiles each ``.po`` into an in-memory catalogue once at
start-up. A missing translation falls back to zh_Hans, never to the raw id.
"""

from __future__ import annotations

import gettext
import io
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "linli"
LANGUAGES = ("zh_Hans", "zh_Hant", "en")
FALLBACK = "zh_Hans"

log = logging.getLogger(__name__)


def N_(msgid: str) -> str:
    """Mark a message id for extraction where it is translated later."""
    return msgid


def po_path(language: str, locale_dir: Path = LOCALE_DIR) -> Path:
    return locale_dir / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def load_catalogue(language: str, locale_dir: Path = LOCALE_DIR) -> gettext.GNUTranslations:
    """Compile the ``.po`` with Babel into ``.mo`` bytes and load them with stdlib gettext."""
    with po_path(language, locale_dir).open("rb") as fh:
        catalogue = read_po(fh, locale=None, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def has_message(catalogue: gettext.GNUTranslations, msgid: str) -> bool:
    return msgid in catalogue._catalog  # type: ignore[attr-defined]


class Translator:
    def __init__(self, locale_dir: Path = LOCALE_DIR) -> None:
        self.catalogues = {lang: load_catalogue(lang, locale_dir) for lang in LANGUAGES}

    def __call__(self, language: str, msgid: str, /, **params: Any) -> str:
        catalogue = self.catalogues.get(language) or self.catalogues[FALLBACK]
        if not has_message(catalogue, msgid):
            catalogue = self.catalogues[FALLBACK]
        if not has_message(catalogue, msgid):
            log.error("missing message id %s", msgid)
            msgid = "error.internal"
        text = catalogue.gettext(msgid)
        return text.format(**params) if params else text


@lru_cache(maxsize=1)
def default_translator() -> Translator:
    return Translator()


def language_of(value: str | None) -> str:
    return value if value in LANGUAGES else FALLBACK
