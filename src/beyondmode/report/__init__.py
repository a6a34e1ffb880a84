"""Reports over evaluation runs: Markdown + self-contained HTML + PNG plots.

    files = build_report(["runs/eval/multi", "runs/eval/rlvr"], Path("runs/report"))
    files.markdown, files.html, files.plots

Plots: recall@k over k (multi-answer over ceil(k/K) generations vs best-of-k), distinct answers among n,
reliability diagrams with ECE, cost per distinct correct answer, training curves of each run (when a
`trainer_state.json` is found), with the oracle where there is one.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from beyondmode.atomic_write import write_text_atomic
from beyondmode.report import conformal_section, plots
from beyondmode.report.collect import RunData, load_runs
from beyondmode.report.tables import report_tables, rl_gain_table
from beyondmode.report.writers import html_page, markdown_page

logger = logging.getLogger(__name__)

__all__ = ["ReportFiles", "build_report", "load_runs"]


@dataclass(frozen=True, slots=True)
class ReportFiles:
    markdown: Path
    html: Path
    plots: tuple[Path, ...]


def build_report(
    run_dirs: Sequence[str | Path],
    out_dir: Path,
    summary: Sequence[str] = (),
    rl_gain: Sequence[dict[str, Any]] = (),
) -> ReportFiles:
    """Read the runs, draw the plots into `out_dir/plots`, write report.md and report.html; `summary`
    paragraphs (plain language) open both pages; `rl_gain` rows (`beyondmode.demo.rl_gain`) make the
    first table."""
    if not run_dirs:
        raise ValueError("build_report needs at least one run directory")
    out_dir = Path(out_dir)
    runs = load_runs(run_dirs)
    figures = _draw(runs, out_dir / "plots")
    tables = ([rl_gain_table(rl_gain)] if rl_gain else []) + report_tables(runs)
    figures, tables = conformal_section.extend(runs, out_dir / "plots", figures, tables)
    markdown = out_dir / "report.md"
    page = out_dir / "report.html"
    write_text_atomic(markdown, markdown_page(runs, tables, figures, out_dir, summary))
    write_text_atomic(page, html_page(runs, tables, figures, summary))
    logger.info("report: %s, %s, %d plots", markdown, page, len(figures))
    return ReportFiles(markdown, page, tuple(path for _, path in figures))


def _draw(runs: Sequence[RunData], folder: Path) -> list[tuple[str, Path]]:
    figures = [
        ("Recall@k: multi-answer vs best-of-k", plots.recall_curve(runs, folder / "recall_at_k.png")),
        ("Distinct answers among n", plots.distinct_histogram(runs, folder / "distinct.png")),
        ("Reliability diagrams", plots.reliability_diagrams(runs, folder / "reliability.png")),
        ("Cost per distinct correct answer", plots.cost_bars(runs, folder / "cost.png")),
    ]
    for run in runs:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", run.label)
        figures.append(
            (f"Training curves: {run.label}", plots.training_plot(run, folder / f"training_{slug}.png"))
        )
    return [(caption, path) for caption, path in figures if path is not None]
