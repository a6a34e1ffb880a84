"""Markdown and self-contained HTML pages of a report (plots embedded as base64 PNG in the HTML)."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path

from beyondmode.report.collect import RunData
from beyondmode.report.tables import Table

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1200px; color: #222; line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.88em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
th { background: #f2f2f2; } tr:nth-child(even) td { background: #fafafa; }
p.note { color: #555; font-size: 0.85em; max-width: 60em; }
figure { margin: 1em 0; } img { max-width: 100%; border: 1px solid #eee; }
.meta { color: #555; font-size: 0.9em; } div.scroll { overflow-x: auto; }
"""


def _run_meta(run: RunData) -> str:
    s = run.summary
    return (
        f"model `{s.get('model')}`, task `{s.get('task')}`, {s.get('num_examples')} examples, backend "
        f"`{s.get('backend')}`, REWARD_VERSION {s.get('reward_version')}, "
        f"FORMAT_VERSION {s.get('format_version')}"
    )


def markdown_page(
    runs: Sequence[RunData],
    tables: Sequence[Table],
    plots: Sequence[tuple[str, Path]],
    out: Path,
    summary: Sequence[str] = (),
) -> str:
    """The Markdown report; plots referenced relative to `out` (the report's folder). `summary`: plain
    paragraphs shown first, under "Summary"."""
    lines = ["# beyondmode evaluation report", ""]
    if summary:
        lines += ["## Summary", ""]
        for paragraph in summary:
            lines += [paragraph, ""]
        lines += ["## Runs", ""]
    lines += [f"- **{run.label}**: {_run_meta(run)}" for run in runs]
    for table in tables:
        lines += ["", f"## {table.title}", ""]
        lines.append("| " + " | ".join(table.header) + " |")
        lines.append("|" + "|".join(["---"] + ["---:"] * (len(table.header) - 1)) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in table.rows]
        if table.note:
            lines += ["", f"_{table.note}_"]
    lines += [
        "",
        "Values: mean [low, high] of the bootstrap 95% interval.",
    ]
    lines += ["", "## Plots", ""]
    for caption, path in plots:
        lines += [f"### {caption}", "", f"![{caption}]({path.relative_to(out).as_posix()})", ""]
    return "\n".join(lines) + "\n"


def html_page(
    runs: Sequence[RunData],
    tables: Sequence[Table],
    plots: Sequence[tuple[str, Path]],
    summary: Sequence[str] = (),
) -> str:
    """A self-contained HTML page (no scripts, no external resources)."""
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>beyondmode evaluation report</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>beyondmode evaluation report</h1>",
    ]
    if summary:
        parts.append("<h2>Summary</h2>")
        parts += [f"<p>{e(paragraph)}</p>" for paragraph in summary]
        parts.append("<h2>Runs</h2>")
    parts += [
        "<ul class='meta'>",
        *(f"<li><b>{e(run.label)}</b>: {e(_run_meta(run).replace('`', ''))}</li>" for run in runs),
        "</ul>",
    ]
    for table in tables:
        parts.append(f"<h2>{e(table.title)}</h2><div class='scroll'><table><thead><tr>")
        parts += [f"<th>{e(cell)}</th>" for cell in table.header]
        parts.append("</tr></thead><tbody>")
        for row in table.rows:
            parts.append("<tr>" + "".join(f"<td>{e(cell)}</td>" for cell in row) + "</tr>")
        parts.append("</tbody></table></div>")
        if table.note:
            parts.append(f"<p class='note'>{e(table.note)}</p>")
    parts.append("<p class='note'>Values: mean [low, high] of the bootstrap 95% interval.</p>")
    parts.append("<h2>Plots</h2>")
    for caption, path in plots:
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        parts.append(
            f"<figure><img alt='{e(caption)}' src='data:image/png;base64,{data}'>"
            f"<figcaption>{e(caption)}</figcaption></figure>"
        )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
