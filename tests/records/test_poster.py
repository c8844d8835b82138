"""The vote poster (公示): what a resident reads on the wall is what the record says.

The PDF is read back with poppler's ``pdftotext``: the text a printer gets, not what
the renderer meant to write.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import replace
from functools import cache
from pathlib import Path

import pytest
import segno
from fpdf import FPDF
from PIL import Image

from handlers.records import fonts
from handlers.records.data import BuildingCount
from handlers.records.poster import draw_qr, vote_poster
from tests.records.sample import DIGEST, households, vote_record

POPPLER = shutil.which("pdftotext") is not None and shutil.which("pdftoppm") is not None


@pytest.fixture(autouse=True)
def poppler() -> None:
    if not POPPLER:
        if os.environ.get("CI") == "true":
            pytest.fail("pdftotext is missing: apt-get install poppler-utils")
        pytest.skip("pdftotext is missing (apt-get install poppler-utils)")


def run(*command: str, data: bytes) -> str:
    done = subprocess.run(command, input=data, capture_output=True, check=True, timeout=60)
    return done.stdout.decode("utf-8")


def text_of(pdf: bytes, *pages: int) -> str:
    span = ["-f", str(pages[0]), "-l", str(pages[-1])] if pages else []
    return run("pdftotext", "-layout", *span, "-", "-", data=pdf)


def flat(text: str) -> str:
    """The text with its layout's runs of blanks as one space."""
    return re.sub(r"[ \t]+", " ", text)


@cache
def poster() -> bytes:
    """The sample record's poster, rendered once for the tests that only read it."""
    return vote_poster(vote_record())


def test_the_poster_holds_the_counts_the_decision_and_the_digest():
    pdf = poster()
    assert pdf.startswith(b"%PDF-")
    text = flat(text_of(pdf))
    for expected in (
        "表决结果公示",
        "幸福里社区",
        "议题 #12：3号楼加装电梯",
        "表决范围：3号楼、5号楼全体住户",
        "通过规则：全体户数的 3/5 以上同意（含）",
        "应参与表决 120 户（另有空置房屋 4 户，不计入）",
        "线上表决 61 户，入户表决 37 户，已走访未表态 13 户，未联系到 9 户",
        "赞成 73 户，反对 19 户，弃权 6 户",
        "表决结果：通过（2026-11-30 18:00 截止）",
        "既尊重多数人意愿，又保护少数人合法权益",
        "• 担心施工期间噪音影响老人休息",
        "• 低层住户希望分摊比例再议",
        "• 5号楼 2 单元 301 户对入户记录提出异议，已复核",
        DIGEST,
        "linli verify-vote 12",
        "扫码查看议题详情",
        "第 1 页，共 1 页",
    ):
        assert expected in text, expected
    # The by-building table, in the headings' order, and its sum.
    rows = {line.split()[0]: line.split()[1:] for line in text.splitlines() if line.split()}
    assert rows["3号楼"] == ["70", "40", "20", "4", "6", "44", "11", "5"]
    assert rows["5号楼"] == ["50", "21", "17", "9", "3", "29", "8", "1"]
    assert rows["合计"] == ["120", "61", "37", "13", "9", "73", "19", "6"]
    info = run("pdfinfo", "-", data=pdf)
    assert "(A4)" in info and re.search(r"Pages:\s+1\b", info)


def test_a_traditional_record_prints_traditional_labels_in_the_tc_face():
    record = vote_record(
        language="zh_Hant", vacant_excluded=0, dissent=(), flags=(), outcome="not_approved"
    )
    pdf = vote_poster(record)
    text = flat(text_of(pdf))
    for expected in (
        "表決結果公示",
        "應參與表決 120 戶",
        "贊成 73 戶，反對 19 戶，棄權 6 戶",
        "表決結果：未通過",
        "分樓棟統計",
        # Without vacancies, dissent or flags the poster says so.
        "本次表決沒有收到反對或保留意見。",
        "本次表決沒有爭議事項，也沒有人工調整。",
    ):
        assert expected in text, expected
    assert "空置" not in text
    assert "表决" not in text and "赞成" not in text
    faces = run("pdffonts", "-", data=pdf)
    assert "NotoSansCJKTC" in faces.replace("-", "") and "NotoSansCJKSC" not in faces


def test_the_chinese_is_embedded_and_the_same_record_gives_the_same_bytes():
    pdf = poster()
    faces = run("pdffonts", "-", data=pdf)
    noto = [line for line in faces.splitlines() if "NotoSansCJK" in line]
    assert len(noto) == 2 and all(line.split()[-5] == "yes" for line in noto)  # emb
    assert vote_poster(vote_record()) == pdf


def test_many_buildings_run_onto_more_pages_with_the_headings_repeated():
    buildings = tuple(BuildingCount(f"{n}号楼", 30, 10, 10, 5, 5, 12, 6, 2) for n in range(1, 61))
    pdf = vote_poster(vote_record(buildings=buildings, households=households(1200)))
    pages = int(re.findall(r"Pages:\s+(\d+)", run("pdfinfo", "-", data=pdf))[0])
    assert pages >= 2
    second = flat(text_of(pdf, 2))
    assert "楼栋 应参与户数" in second and f"第 2 页，共 {pages} 页" in second
    everything = flat(text_of(pdf))
    assert all(f"{n}号楼 30 10 10 5 5 12 6 2" in everything for n in range(1, 61))
    assert "合计 1800 600 600 300 300 720 360 120" in everything
    assert DIGEST in everything  # the verification block made it, on whichever page


def test_the_qr_code_holds_the_link(tmp_path: Path):
    """Rasterised at 300 dpi, the centre of every module is dark exactly where segno's
    matrix for the link is."""
    url = "https://linli.example/p/12"
    pdf = FPDF(unit="mm", format="A4")
    pdf.add_page()
    draw_qr(pdf, url, 20, 20, 40)
    run(
        "pdftoppm",
        "-r",
        "300",
        "-png",
        "-singlefile",
        "-",
        str(tmp_path / "qr"),
        data=bytes(pdf.output()),
    )
    image = Image.open(tmp_path / "qr.png").convert("L")
    matrix = [list(row) for row in segno.make(url, error="m", micro=False).matrix]
    module = 40 / (len(matrix) + 4)
    dots = 300 / 25.4
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            x = (20 + (2 + c + 0.5) * module) * dots
            y = (20 + (2 + r + 0.5) * module) * dots
            assert (image.getpixel((round(x), round(y))) < 128) == bool(dark), (r, c)


def test_without_the_font_it_refuses_with_the_install_hint(monkeypatch, tmp_path: Path):
    fonts.cjk_face.cache_clear()
    monkeypatch.setattr(fonts, "_fc_match", lambda family, weight: [])
    monkeypatch.setattr(fonts, "KNOWN_DIRS", (str(tmp_path),))
    (tmp_path / "NotoSansCJK-Regular.ttc").write_bytes(b"not a font")
    try:
        with pytest.raises(RuntimeError, match="apt-get install fonts-noto-cjk"):
            vote_poster(vote_record())
    finally:
        fonts.cjk_face.cache_clear()


def test_the_face_is_picked_by_its_name_in_the_collection():
    regular, bold = fonts.cjk_face("zh_Hans"), fonts.cjk_face("zh_Hant", bold=True)
    assert regular.path.endswith("NotoSansCJK-Regular.ttc") and bold.path.endswith("Bold.ttc")
    assert regular.index != fonts.cjk_face("zh_Hant").index
    assert replace(regular) == fonts.cjk_face("en")  # any other language: simplified
