"""One renderer: plain text wrapped at 80 columns (quoted logs and verbatim lines kept whole), markdown for CI."""

from __future__ import annotations

from farm.report import compare, render


def test_text_wraps_at_80_but_keeps_quoted_logs_and_verbatim_lines_whole() -> None:
    long_log = "[    1.000000] " + "x" * 120
    blocks: list[render.Block] = [
        render.Para("word " * 40),
        render.Facts((("base", "v7.3.4 " * 20), ("zpfarm", "0.1.0"))),
        render.Table(("a", "b"), (("cell " * 10, "test " * 10),)),
        render.Quote((long_log,), "console:"),
        render.Verbatim(("  zpfarm run --cell " + "c" * 90,)),
    ]
    text = render.text(blocks)
    lines = text.splitlines()
    assert f"> {long_log}" in lines and "  zpfarm run --cell " + "c" * 90 in lines
    assert all(len(line) <= 80 for line in lines if not line.startswith(("> ", "  zpfarm")))
    assert "zpfarm: 0.1.0" in lines and lines[-1].startswith("  zpfarm")


def test_markdown_of_the_same_blocks() -> None:
    blocks: list[render.Block] = [
        render.Heading("Regressions"),
        render.Table(("change", "test"), (("regression", "t[a,b]"),), code=(1,)),
        render.Quote(("line",), "console:"),
    ]
    assert render.markdown(blocks) == (
        "### Regressions\n\n| change | test |\n| --- | --- |\n| regression | `t[a,b]` |\n\nconsole:\n\n```\nline\n```\n"
    )


def test_compare_markdown_and_the_mails_table_come_from_the_same_blocks() -> None:
    changes = [compare.Change(compare.Kind.REGRESSION, "x86_64-thp-on/default", "t[a]", "pass", "fail")]
    blocks = compare.blocks(changes, "base", "series")
    assert compare.markdown(changes, "base", "series") == render.markdown(blocks)
    assert render.text(blocks) == "- regression | x86_64-thp-on/default | t[a] | pass | fail\n"
