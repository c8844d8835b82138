"""``linli import-households`` and ``linli export-households`` on the test's own database."""

from __future__ import annotations

import asyncio

import pytest

from bot.cli import main
from models.community import Household
from tests.households.files import HEADER, csv_bytes, xlsx
from tests.world import World

FILE = [
    HEADER,
    ["第一网格", "1栋", "1单元", "101", "85.5", "张三", "13812345678"],
    ["第一网格", "2栋", "", "1", "", "", ""],
]


@pytest.fixture
def linli(settings, monkeypatch, capsys):  # type: ignore[no-untyped-def]
    """``linli ARGS`` as a worker types it: its exit status, what it printed, and its errors."""
    monkeypatch.setenv("LINLI_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("LINLI_DATA_DIR", str(settings.data_dir))

    async def run(*args: str) -> tuple[int, list[str], str]:
        capsys.readouterr()
        # In a thread of its own: the command runs its own event loop, as from a shell.
        status = await asyncio.to_thread(main, list(args))
        out, err = capsys.readouterr()
        return status, out.splitlines(), err

    return run


async def test_a_dry_run_then_the_apply(world: World, linli, tmp_path):
    path = tmp_path / "台账.xlsx"
    path.write_bytes(xlsx(FILE))
    status, out, _ = await linli("import-households", str(path), "--community", "test")
    assert status == 0
    assert out == [
        "第 2 行  新增  1栋 1单元 101",
        "第 3 行  新增  2栋 1",
        "合计：新增 2 户，修改 0 户，不变 0 户，不导入 0 行；表中没有的 0 户保持原样。",
        "这只是预览，还没有导入；核对无误后加上 --apply 再运行一次。",
    ]
    assert await Household.all().count() == 0
    status, out, _ = await linli("import-households", str(path), "--community", "test", "--apply")
    assert status == 0 and out[-1] == "已导入台账。"
    assert sorted(await Household.all().values_list("room", flat=True)) == ["1", "101"]


async def test_a_refused_row_exits_1_and_writes_nothing(world: World, linli, tmp_path):
    path = tmp_path / "台账.csv"
    path.write_bytes(csv_bytes([*FILE, ["", "1栋", "1单元", "101"]], "gbk"))
    status, out, _ = await linli("import-households", str(path), "--community", "test", "--apply")
    assert status == 1
    assert out[2] == "第 4 行  不导入  1栋 1单元 101：与第 2 行是同一户（楼栋、单元、房号都相同）。"
    assert out[-1] == "有没通过检查的行，这次什么也没有导入。"
    assert await Household.all().count() == 0


async def test_an_export_imports_back_unchanged(world: World, linli, tmp_path):
    source = tmp_path / "in.xlsx"
    source.write_bytes(xlsx(FILE))
    assert (await linli("import-households", str(source), "--community", "test", "--apply"))[0] == 0
    for name in ("out.xlsx", "out.csv"):
        status, out, _ = await linli(
            "export-households", str(tmp_path / name), "--community", "test"
        )
        assert status == 0 and out[0].startswith(str(tmp_path / name))
        status, out, _ = await linli(
            "import-households", str(tmp_path / name), "--community", "test"
        )
        assert status == 0
        assert out[:2] == ["第 2 行  不变  1栋 1单元 101", "第 3 行  不变  2栋 1"]
    assert (tmp_path / "out.csv").read_bytes().startswith(b"\xef\xbb\xbf")


async def test_a_wrong_community_or_file_is_told(world: World, linli, tmp_path):
    path = tmp_path / "a.xlsx"
    path.write_bytes(xlsx(FILE))
    status, out, err = await linli("import-households", str(path), "--community", "nowhere")
    assert (status, out) == (1, [])
    assert "没有代码为 nowhere 的社区" in err
    status, _, err = await linli(
        "import-households", str(tmp_path / "missing.xlsx"), "--community", "test"
    )
    assert status == 1 and "cannot read" in err
    path.write_bytes(b"not a workbook")
    status, _, err = await linli("import-households", str(path), "--community", "test")
    assert status == 1 and "文件读不出来" in err
    status, _, err = await linli(
        "export-households", str(tmp_path / "x.xlsx"), "--community", "nowhere"
    )
    assert status == 1 and not (tmp_path / "x.xlsx").exists()
