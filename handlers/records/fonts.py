"""Where the system keeps Noto Sans CJK, the one font a printed poster embeds.

A poster must print the same characters it was given: rather than fall back to a font
without Chinese (blank boxes on the wall), rendering stops with the install hint.
Debian ships the faces as collections (``.ttc``), one face per region; the face is
picked by its family name, so the simplified and the traditional glyphs are each right.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from functools import cache

from fontTools.ttLib import TTCollection, TTLibError  # type: ignore[import-untyped]

# The region's face: simplified (SC) and traditional (TC) shapes differ.
FAMILIES = {"zh_Hans": "Noto Sans CJK SC", "zh_Hant": "Noto Sans CJK TC"}
# Where the distributions put the collections when fontconfig is not there to ask.
KNOWN_DIRS = (
    "/usr/share/fonts/opentype/noto",  # Debian, Ubuntu: fonts-noto-cjk
    "/usr/share/fonts/noto-cjk",  # Arch: noto-fonts-cjk
    "/usr/share/fonts/google-noto-cjk",  # Fedora: google-noto-sans-cjk-ttc-fonts
    "/usr/local/share/fonts",
)
INSTALL_HINT = "apt-get install fonts-noto-cjk"


@dataclass(frozen=True)
class Face:
    """One face of a font collection: the file and the face's number in it."""

    path: str
    index: int


def _fc_match(family: str, weight: str) -> list[str]:
    """What fontconfig names for the family, if fontconfig is installed."""
    if shutil.which("fc-match") is None:
        return []
    try:
        done = subprocess.run(
            ["fc-match", "-f", "%{file}", f"{family}:style={weight}"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return [done.stdout.strip()] if done.returncode == 0 and done.stdout.strip() else []


def _index_of(path: str, family: str, weight: str) -> int | None:
    """The number of the face ``family`` of ``weight`` in a collection, if it holds one."""
    try:
        collection = TTCollection(path, lazy=True)
    except (OSError, TTLibError):
        return None
    for number, font in enumerate(collection.fonts):
        names = font["name"]
        if names.getDebugName(1) == family and names.getDebugName(2) == weight:
            return number
    return None


@cache
def cjk_face(language: str, bold: bool = False) -> Face:
    """Noto Sans CJK for ``language`` (zh_Hant: TC, anything else: SC), regular or bold.

    Raises ``RuntimeError`` with the install hint when the system has no such face.
    """
    family = FAMILIES.get(language, FAMILIES["zh_Hans"])
    weight = "Bold" if bold else "Regular"
    candidates = _fc_match(family, weight) + [
        f"{folder}/NotoSansCJK-{weight}.ttc" for folder in KNOWN_DIRS
    ]
    for path in dict.fromkeys(candidates):
        if path.endswith(".ttc"):
            index = _index_of(path, family, weight)
            if index is not None:
                return Face(path, index)
    raise RuntimeError(
        f"No {family} {weight} font (NotoSansCJK-{weight}.ttc) on this system; "
        f"printing a poster needs it: {INSTALL_HINT}"
    )
