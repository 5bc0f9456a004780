"""The coverage report as Markdown and as one static HTML page (no script, no network)."""

from __future__ import annotations

import html
from collections.abc import Iterator

from farm.report.coverage import Coverage, Kind, Line, Tally
from farm.report.diff import Added, Hunk

GOAL = 90.0  # percent of the series' added executable lines in mm/ that tests should run


def _where(lines: list[Line]) -> str:
    return ", ".join(str(x.added.line) for x in lines)


def _name(function: str) -> str:
    return f"`{function}`" if function else "(outside any function)"


def _verdict(t: Tally) -> str:
    if t.percent is None:
        return "no executable added line"
    return f"{t.text()}: goal of {GOAL:.0f}% {'met' if t.percent >= GOAL else 'not met'}"


def markdown(cov: Coverage, title: str) -> str:
    """Per patch: executed/executable, then the lines never executed and the excepted, by function."""
    out = [f"# Coverage of the series: {title}", ""]
    out += [
        f"Added executable lines executed: **{cov.tally().text()}**; in mm/: **{_verdict(cov.tally(prefix='mm/'))}**."
    ]
    out += ["", "| patch | subject | executed | excepted | no gcov data |", "| --- | --- | --- | --- | --- |"]
    for p in cov.patches:
        t = cov.tally(p.number)
        out.append(f"| {p.number} | {p.subject} | {t.text() if t.executable else '-'} | {t.excepted} | {t.no_data} |")
    for p in cov.patches:
        missed = cov.by_function(p.number, Kind.MISSED)
        excepted = cov.by_function(p.number, Kind.EXCEPTED)
        stale = {k: v for k, v in cov.by_function(p.number, Kind.EXECUTED).items() if v[0].why}
        if not missed and not excepted and not stale:
            continue
        out += ["", f"## Patch {p.number}: {p.subject}", ""]
        for (file, function), lines in missed.items():
            out.append(f"- never executed: {_name(function)} ({file}:{_where(lines)})")
            out += [f"  - {file}:{x.added.line}: `{x.added.text.strip()}`" for x in lines]
        for (file, function), lines in excepted.items():
            out.append(f"- excepted: {_name(function)} ({file}:{_where(lines)}): {lines[0].why}")
        for (file, function), lines in stale.items():
            out.append(f"- executed though excepted (a stale exception): {_name(function)} ({file}:{_where(lines)})")
    return "\n".join(out) + "\n"


_CSS = """
body { font-family: sans-serif; margin: 2em; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 2px 8px; text-align: left; }
pre { background: #fafafa; border: 1px solid #ddd; padding: 4px; overflow-x: auto; }
pre span { display: block; } .n { color: #888; }
.executed { background: #d7f5d7; } .missed { background: #f9d0d0; } .excepted { background: #e8e8e8; }
.removed { color: #a33; } .added { color: #333; } .context { color: #666; }
"""


def page(cov: Coverage, title: str) -> str:
    """Each patch's hunks, every added line marked: executed, never executed, excepted."""
    esc = html.escape
    head = f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title><style>{_CSS}</style></head>"
    body = [f"<body><h1>Coverage of the series: {esc(title)}</h1>"]
    body.append(f"<p>Added executable lines executed: <b>{esc(cov.tally().text())}</b>; ")
    body.append(f"in mm/: <b>{esc(_verdict(cov.tally(prefix='mm/')))}</b>.</p>")
    body.append("<p><span class='executed'>executed</span> <span class='missed'>never executed</span> ")
    body.append("<span class='excepted'>excepted (no test can reach it)</span>; ")
    body.append("columns: the line at the series' tip, its count.</p>")
    body.append("<table><tr><th>patch</th><th>subject</th><th>executed</th><th>excepted</th><th>no gcov data</th></tr>")
    for p in cov.patches:
        t = cov.tally(p.number)
        body.append(
            f"<tr><td><a href='#p{p.number}'>{p.number}</a></td><td>{esc(p.subject)}</td>"
            f"<td>{esc(t.text()) if t.executable else '-'}</td><td>{t.excepted}</td><td>{t.no_data}</td></tr>"
        )
    body.append("</table>")
    for p in cov.patches:
        body.append(f"<h2 id='p{p.number}'>{p.number}. {esc(p.subject)}</h2>")
        body.append(f"<p>{esc(p.name)}: {esc(cov.tally(p.number).text())}</p>")
        judged = {id(x.added): x for x in cov.lines if x.patch == p.number}
        added = iter(p.added)
        for hunk in p.hunks:
            body.append(f"<h3>{esc(hunk.file)}</h3><pre>{''.join(_hunk(hunk, added, judged))}</pre>")
    return head + "".join(body) + "</body></html>\n"


def _hunk(hunk: Hunk, added: Iterator[Added], judged: dict[int, Line]) -> Iterator[str]:
    yield f"<span class='n'>{html.escape(hunk.header)}</span>"
    for hl in hunk.lines:
        text = html.escape(hl.kind + hl.text)
        if hl.kind != "+":
            yield f"<span class='{'removed' if hl.kind == '-' else 'context'}'>{'':>6} {'':>8} {text}</span>"
            continue
        line = judged.get(id(next(added)))
        kind = line.kind if line else Kind.NOT_CODE
        css = {Kind.EXECUTED: "executed", Kind.MISSED: "missed", Kind.EXCEPTED: "excepted"}.get(kind, "added")
        number = line.added.line if line and line.added.line is not None else ""
        count = str(line.count) if line and kind is Kind.EXECUTED else ("0" if kind is Kind.MISSED else "")
        tip = f" title='{html.escape(line.why)}'" if line and line.why else ""
        yield f"<span class='{css}'{tip}>{number:>6} {count:>8} {text}</span>"
