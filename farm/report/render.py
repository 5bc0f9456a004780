"""One document, two renderings: plain text for a mail (80 columns) and markdown for a CI comment (pure).

A report is a list of blocks: paragraphs, label/value facts, tables and
quoted logs. text() wraps everything at WIDTH columns but the quoted logs,
which keep their lines as the machine printed them ("> " in front);
markdown() renders the same blocks for GitHub or GitLab. `zpfarm compare
--format md` and `zpfarm report email` both go through here.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

WIDTH = 80


@dataclass(frozen=True)
class Para:
    text: str


@dataclass(frozen=True)
class Heading:
    text: str


@dataclass(frozen=True)
class Facts:
    """Label: value lines (the header block of a report)."""

    items: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...] = ()
    code: tuple[int, ...] = ()  # columns shown as code in markdown

    def markdown_lines(self) -> list[str]:
        return [self.markdown_row(self.header, plain=True), "| " + " | ".join("---" for _ in self.header) + " |"] + [
            self.markdown_row(row) for row in self.rows
        ]

    def markdown_row(self, row: Sequence[str], *, plain: bool = False) -> str:
        cells = [f"`{cell}`" if i in self.code and not plain else cell for i, cell in enumerate(row)]
        return "| " + " | ".join(cells) + " |"


@dataclass(frozen=True)
class Quote:
    """Lines a machine printed: never wrapped, never reflowed."""

    lines: tuple[str, ...]
    title: str = ""


@dataclass(frozen=True)
class Verbatim:
    """Lines kept exactly as they are, in both renderings (trailers, commands)."""

    lines: tuple[str, ...]


Block = Para | Heading | Facts | Table | Quote | Verbatim


def _wrap(text: str, first: str = "", rest: str = "") -> list[str]:
    return textwrap.wrap(
        text, WIDTH, initial_indent=first, subsequent_indent=rest, break_long_words=False, break_on_hyphens=False
    ) or [first.rstrip()]


def _text(block: Block) -> list[str]:
    if isinstance(block, Para):
        return [line for part in block.text.split("\n") for line in _wrap(part)]
    if isinstance(block, Heading):
        return [*_wrap(block.text), "=" * min(WIDTH, len(block.text))]
    if isinstance(block, Facts):
        width = max((len(label) for label, _ in block.items), default=0) + 2
        return [line for label, value in block.items for line in _wrap(value, f"{label}:".ljust(width), " " * width)]
    if isinstance(block, Table):
        return [line for row in block.rows for line in _wrap(" | ".join(row), "- ", "  ")]
    if isinstance(block, Quote):
        return [*(_wrap(block.title) if block.title else []), *(f"> {line}".rstrip() for line in block.lines)]
    return list(block.lines)


def _markdown(block: Block) -> list[str]:
    if isinstance(block, Para):
        return [block.text]
    if isinstance(block, Heading):
        return [f"### {block.text}"]
    if isinstance(block, Facts):
        return [f"- **{label}:** {value}" for label, value in block.items]
    if isinstance(block, Table):
        return block.markdown_lines()
    if isinstance(block, Quote):
        return [*([block.title, ""] if block.title else []), "```", *block.lines, "```"]
    return ["```", *block.lines, "```"]


def text(blocks: Sequence[Block]) -> str:
    """Plain text, lines of at most WIDTH columns outside quotes and verbatim lines; blank line between blocks."""
    return "\n\n".join("\n".join(_text(b)) for b in blocks) + "\n"


def markdown(blocks: Sequence[Block]) -> str:
    return "\n\n".join("\n".join(_markdown(b)) for b in blocks) + "\n"
