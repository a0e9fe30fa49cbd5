"""Coverage: rows per month per table, as a DVC plot file and as a self-contained HTML report.

seeds/reports/coverage.csv (`month,table,rows`, long format, sorted by table then month) is
written by the manifest stage and git-tracked, so every version tag carries it and
`dvc plots diff <tagA> <tagB>` compares coverage across versions. Months without rows
inside a table's range are written as 0: a gap in the history shows as a drop to zero.

The HTML report draws the same series as inline SVG, with no network access at all
(no scripts or styles from anywhere else), so it opens offline in any browser.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

COVERAGE_FILE = "reports/coverage.csv"
COVERAGE_HEADER = "month,table,rows"


def month_span(first: str, last: str) -> list[str]:
    """Every `YYYY-MM` from first to last, inclusive."""
    y, m = int(first[:4]), int(first[5:7])
    end = (int(last[:4]), int(last[5:7]))
    months = []
    while (y, m) <= end:
        months.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return months


def coverage_series(manifest: dict[str, Any]) -> dict[str, list[tuple[str, int]]]:
    """table -> [(month, rows)] over the table's whole range, gaps as 0; tables by name.

    Tables without a time column (or without rows) have no series.
    """
    series = {}
    for name in sorted(manifest["tables"]):
        per_month = manifest["tables"][name].get("rows_per_month") or {}
        if per_month:
            months = month_span(min(per_month), max(per_month))
            series[name] = [(m, int(per_month.get(m, 0))) for m in months]
    return series


def coverage_csv(manifest: dict[str, Any]) -> str:
    lines = [COVERAGE_HEADER]
    for name, points in coverage_series(manifest).items():
        lines += [f"{month},{name},{rows}" for month, rows in points]
    return "\n".join(lines) + "\n"


def write_coverage(seeds_dir: Path, manifest: dict[str, Any]) -> Path:
    """seeds/reports/coverage.csv for this manifest (rewritten only when it changed)."""
    path = seeds_dir / COVERAGE_FILE
    text = coverage_csv(manifest)
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".csv.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return path


# --- HTML ------------------------------------------------------------------------------------

_WIDTH, _HEIGHT = 860, 170
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 16, 12, 28
_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1a202c; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 24px 0 4px; }
.meta { color: #4a5568; margin: 0 0 16px; }
table.manifest { border-collapse: collapse; margin: 8px 0 16px; }
table.manifest th, table.manifest td { border: 1px solid #cbd5e0; padding: 3px 8px; text-align: left; }
table.manifest td.num { text-align: right; font-variant-numeric: tabular-nums; }
svg.coverage { background: #f7fafc; border: 1px solid #e2e8f0; display: block; }
svg .axis { stroke: #a0aec0; stroke-width: 1; } svg text { font-size: 11px; fill: #4a5568; }
svg .series { fill: none; stroke: #2b6cb0; stroke-width: 1.5; }
svg .gap { fill: #e53e3e; } .gaps { color: #c53030; }
"""
# Proof of layout for tests and operators: each series records the size it was drawn at.
_SCRIPT = """
for (const p of document.querySelectorAll('path.series')) {
  const b = p.getBBox();
  p.setAttribute('data-rendered', Math.round(b.width) + 'x' + Math.round(b.height));
}
document.body.setAttribute('data-rendered', 'yes');
"""


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _svg(name: str, points: list[tuple[str, int]]) -> str:
    n = len(points)
    top = max((r for _, r in points), default=0) or 1
    plot_w, plot_h = _WIDTH - _LEFT - _RIGHT, _HEIGHT - _TOP - _BOTTOM

    def x(i: int) -> float:
        return _LEFT + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(rows: int) -> float:
        return _TOP + plot_h * (1 - rows / top)

    path = " ".join(f"{'M' if i == 0 else 'L'}{x(i):.1f},{y(r):.1f}" for i, (_, r) in enumerate(points))
    gaps = [(i, m) for i, (m, r) in enumerate(points) if r == 0]
    parts = [
        f'<svg class="coverage" data-table="{_esc(name)}" width="{_WIDTH}" height="{_HEIGHT}" '
        f'viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img" aria-label="rows per month of {_esc(name)}">',
        f'<line class="axis" x1="{_LEFT}" y1="{_TOP + plot_h}" x2="{_WIDTH - _RIGHT}" y2="{_TOP + plot_h}"/>',
        f'<line class="axis" x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{_TOP + plot_h}"/>',
        f'<text x="{_LEFT - 6}" y="{_TOP + 10}" text-anchor="end">{top:,}</text>',
        f'<text x="{_LEFT - 6}" y="{_TOP + plot_h}" text-anchor="end">0</text>',
    ]
    # Year labels, thinned to about ten across the axis.
    years = [(i, m) for i, (m, _) in enumerate(points) if m.endswith("-01") or i == 0]
    step = max(1, len(years) // 10)
    for i, m in years[::step]:
        parts.append(f'<text x="{x(i):.1f}" y="{_HEIGHT - 8}" text-anchor="middle">{_esc(m[:4])}</text>')
    total = sum(r for _, r in points)
    parts.append(
        f'<path class="series" data-table="{_esc(name)}" data-months="{n}" data-rows="{total}" '
        f'data-first="{_esc(points[0][0])}" data-last="{_esc(points[-1][0])}" d="{path}">'
        f"<title>{_esc(name)}: {total:,} rows in {n} months</title></path>"
    )
    for i, m in gaps:
        parts.append(
            f'<rect class="gap" data-month="{_esc(m)}" x="{x(i) - 1.5:.1f}" y="{_TOP + plot_h - 6}" '
            f'width="3" height="6"><title>{_esc(name)} {_esc(m)}: no rows</title></rect>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def render_html(manifest: dict[str, Any], *, title: str | None = None) -> str:
    """A self-contained HTML page: the manifest as a table and a coverage chart per table."""
    heading = title or f"seedctl snapshot {manifest['version']}"
    compat = manifest.get("compatibility", {})
    rows = []
    for name, t in manifest["tables"].items():
        rng = t.get("date_range") or {}
        rows.append(
            f'<tr data-table="{_esc(name)}"><td>{_esc(name)}</td><td>{_esc(t["table"])}</td>'
            f'<td class="num">{int(t["rows"]):,}</td><td>{_esc(rng.get("min") or "-")}</td>'
            f'<td>{_esc(rng.get("max") or "-")}</td><td class="num">{int(t["size_bytes"]):,}</td>'
            f"<td><code>{_esc(t['sha256'][:16])}</code></td></tr>"
        )
    charts = []
    for name, points in coverage_series(manifest).items():
        gaps = [m for m, r in points if r == 0]
        note = (
            (
                f'<p class="gaps">{len(gaps)} month(s) without rows: {_esc(", ".join(gaps[:12]))}'
                f"{' ...' if len(gaps) > 12 else ''}</p>"
            )
            if gaps
            else '<p class="meta">no gaps</p>'
        )
        charts.append(
            f'<section class="table-coverage" data-table="{_esc(name)}"><h2>{_esc(name)}</h2>'
            f'<p class="meta">rows per month, {_esc(points[0][0])} to {_esc(points[-1][0])}</p>'
            f"{_svg(name, points)}{note}</section>"
        )
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{_esc(heading)}</title>",
            f"<style>{_STYLE}</style></head>",
            f'<body data-version="{_esc(manifest["version"])}">',
            f"<h1>{_esc(heading)}</h1>",
            f'<p class="meta">created {_esc(manifest["created_at"])} by {_esc(manifest.get("created_by", "?"))}; '
            f"PostgreSQL {_esc(compat.get('postgres_version', '?'))}</p>",
            '<table class="manifest"><thead><tr><th>source</th><th>table</th><th>rows</th><th>from</th>'
            "<th>to</th><th>bytes</th><th>sha256</th></tr></thead><tbody>",
            *rows,
            "</tbody></table>",
            *charts,
            f"<script>{_SCRIPT}</script>",
            "</body></html>",
            "",
        ]
    )


def write_html(path: Path, manifest: dict[str, Any], *, title: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(manifest, title=title), encoding="utf-8")
    return path
