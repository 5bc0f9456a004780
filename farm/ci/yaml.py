"""Just enough YAML to write CI pipelines: block mappings and lists, quoted scalars, literal scripts.

The engines read YAML only; the farm has no YAML library. Strings that YAML
could read as anything but themselves (true, on, 1.0, ${{ ... }}, a: b) are
double-quoted the way JSON quotes them, which YAML reads back unchanged;
multi-line strings are literal blocks (|), kept as written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

Value = str | int | bool | None | Mapping[str, "Value"] | Sequence["Value"]

_PLAIN = re.compile(r"[A-Za-z_./][A-Za-z0-9_./ @()+,=-]*")
_KEYWORDS = {"true", "false", "yes", "no", "on", "off", "y", "n", "null", "~"}
_INDENT = "  "


def dump(document: Mapping[str, Value], header: str = "") -> str:
    """The YAML text of a mapping; header lines become '# ' comments on top."""
    comments = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return comments + "".join(_mapping(document, 0))


def scalar(value: str | int | bool | None) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if _PLAIN.fullmatch(value) and value.lower() not in _KEYWORDS and not value.endswith(" "):
        return value
    return json.dumps(value, ensure_ascii=False)


def _mapping(data: Mapping[str, Value], depth: int) -> list[str]:
    pad = _INDENT * depth
    lines = []
    for key, value in data.items():
        lines += _entry(f"{pad}{scalar(key)}:", value, depth)
    return lines


def _entry(lead: str, value: Value, depth: int) -> list[str]:
    """'lead value' for a scalar, or lead then the nested block one level deeper."""
    if isinstance(value, Mapping):
        return [f"{lead} {{}}\n"] if not value else [f"{lead}\n", *_mapping(value, depth + 1)]
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [f"{lead} []\n"] if not value else [f"{lead}\n", *_sequence(value, depth + 1)]
    if isinstance(value, str) and "\n" in value and not value.startswith((" ", "\n")):
        return [f"{lead} {_block_indicator(value)}\n", *_block(value, depth + 1)]
    return [f"{lead} {scalar(value)}\n"]


def _sequence(items: Sequence[Value], depth: int) -> list[str]:
    pad = _INDENT * (depth - 1)  # "- " sits at the parent's indent plus one level
    lines = []
    for item in items:
        if isinstance(item, Mapping) and item:
            nested = _mapping(item, depth)
            lines.append(f"{pad}- {nested[0].lstrip()}")
            lines += nested[1:]
        else:
            lines += _entry(f"{pad}-", item, depth)
    return lines


def _block_indicator(text: str) -> str:
    if not text.endswith("\n"):
        return "|-"
    return "|" if not text.endswith("\n\n") else "|+"


def _block(text: str, depth: int) -> list[str]:
    pad = _INDENT * depth
    body = text[:-1] if text.endswith("\n") else text
    return [f"{pad}{line}\n" if line else "\n" for line in body.split("\n")]
