"""HTML building blocks of the report: the page, figures, tables and the heatmap.

The page is self-contained: figures are PNG images embedded as base64 ``data:`` URIs and
the style sheet is inline, so the file opens anywhere, offline. It holds no script. What
goes on the page is decided by :mod:`simlab.analysis.report`.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from importlib import metadata

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.colors import to_hex

from simlab.analysis import plots
from simlab.analysis.run_series import days_word, periods_of

__all__ = ["DPI", "Section", "figure", "heatmap", "html_table", "page", "paragraph", "standalone_page"]

DPI = 90
"""Resolution of the embedded figures (a 10-inch figure is 900 pixels wide)."""
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Section:
    """One part of the report: its anchor, its heading and its HTML body."""

    id: str
    title: str
    body: str


_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0 auto;max-width:1180px;
padding:0 24px 48px;color:#1b1b1b;line-height:1.45}
header{border-bottom:2px solid #333;padding:16px 0 8px}h1{margin:0 0 4px}h2{margin-top:36px;
border-bottom:1px solid #ccc;padding-bottom:4px}.facts{display:grid;grid-template-columns:max-content 1fr;
gap:2px 16px;margin:8px 0}.facts dt{font-weight:600}.facts dd{margin:0}nav ol{columns:3;margin:0}
figure{margin:16px 0}figure img{max-width:100%;height:auto;display:block}figcaption{color:#555;font-size:.9em}
table{border-collapse:collapse;font-size:.88em;margin:12px 0;display:block;overflow-x:auto}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:right;vertical-align:top}
th{background:#f3f3f3}thead th{max-width:10em;overflow-wrap:anywhere}td.label,th.label{text-align:left}tr.verdict td{text-align:left}
tr.pass td.v{background:#d9f2d9}tr.fail td.v{background:#f8d0cc}tr.inconclusive td.v{background:#fff1c2}
table.heatmap td{min-width:3.2em;font-variant-numeric:tabular-nums}h3{margin:18px 0 4px}
pre{background:#f7f7f7;padding:12px;overflow-x:auto;font-size:.85em}.note{color:#555}
footer{margin-top:40px;color:#777;font-size:.85em}
"""


def page(result, sections: list[Section]) -> str:
    """The whole page: a header with the run's facts, a table of contents, the sections, a footer."""
    cfg, exp = result.config, result.config.experiment
    title = html.escape(cfg.name)
    rows = f"{len(result.dates)} {days_word(periods_of(result))}"
    facts = {"span": f"{result.dates[0].date()} to {result.dates[-1].date()} ({rows})",
             "scenarios": f"{len(result.scenarios)}", "assets": f"{len(result.assets)}",
             "data": exp.data.source, "benchmark": exp.data.benchmark or "none",
             "schedule": f"{exp.schedule.frequency}, {exp.schedule.day} day",
             "costs": _inline(exp.costs) if exp.costs else "none", "run id": f"{cfg.name}-{cfg.config_hash()[:8]}"}
    header = (f"<header><h1>{title}</h1><p>{html.escape(exp.description or '')}</p><dl class=\"facts\">"
              + "".join(f"<dt>{k}</dt><dd>{html.escape(v)}</dd>" for k, v in facts.items()) + "</dl></header>")
    return _document(f"{title}: simlab report", header, sections)


def standalone_page(title: str, facts: dict, sections: list[Section]) -> str:
    """A page with ``title``, a header of ``facts``, a table of contents and ``sections``
    (the run report's look, for pages that are not about one run)."""
    header = (f"<header><h1>{html.escape(title)}</h1><dl class=\"facts\">"
              + "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd>" for k, v in facts.items())
              + "</dl></header>")
    return _document(html.escape(title), header, sections)


def _document(page_title: str, header: str, sections: list[Section]) -> str:
    """The whole page: ``page_title`` (HTML), the header, a table of contents, the sections."""
    toc = "".join(f'<li><a href="#{s.id}">{html.escape(s.title)}</a></li>' for s in sections)
    body = "".join(f'<section id="{s.id}"><h2>{html.escape(s.title)}</h2>{s.body}</section>' for s in sections)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{page_title}</title>'
            f"<style>{_STYLE}</style></head><body>{header}"
            f'<nav id="contents"><h2>Contents</h2><ol>{toc}</ol></nav><main>{body}</main>'
            f"<footer>simlab {html.escape(_version())}</footer></body></html>\n")


def figure(fig, alt: str, caption: str) -> str:
    """A matplotlib figure as an embedded PNG, with its alternative text and caption."""
    data = base64.b64encode(plots.figure_png(fig, dpi=DPI)).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def paragraph(text: str) -> str:
    """A note in running text, escaped."""
    return f'<p class="note">{html.escape(text)}</p>'


def html_table(frame: pd.DataFrame, index_label: str = "", *, index: bool = True,
               row_classes: list[str] | None = None) -> str:
    """A table of strings; ``row_classes`` marks verdict rows (their last two cells)."""
    head = ([f'<th class="label">{html.escape(index_label)}</th>'] if index else [])
    head += [f"<th>{html.escape(str(c))}</th>" for c in frame.columns]
    rows = []
    for i, (label, values) in enumerate(frame.iterrows()):
        cls = row_classes[i] if row_classes else ""
        cells = [f'<th class="label">{html.escape(str(label))}</th>'] if index else []
        for col, v in values.items():
            kind = "v" if col == "verdict" else ("label" if col in ("claim", "scenario", "reason") else "")
            cells.append(f'<td class="{kind}">{html.escape(str(v))}</td>')
        rows.append(f'<tr class="{cls}">' + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{''.join(head)}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def heatmap(table: pd.DataFrame) -> str:
    """Monthly returns (:func:`simlab.analysis.run_series.monthly_returns`) as an HTML table
    whose cells are coloured by their value."""
    months = table[list(range(1, 13))]
    colors = pd.concat([_colors(months), _colors(table[["year"]])], axis=1)
    head = '<th class="label">year</th>' + "".join(f"<th>{m}</th>" for m in (*MONTHS, "Year"))
    rows = []
    for year, values in table.iterrows():
        cells = "".join(f'<td style="background:{c}">{"" if np.isnan(v) else f"{100 * v:.1f}"}</td>'
                        for v, c in zip(values, colors.loc[year]))
        rows.append(f'<tr><th class="label">{year}</th>{cells}</tr>')
    return f'<table class="heatmap"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _colors(frame: pd.DataFrame) -> pd.DataFrame:
    """Hex colours of a diverging map centred on 0, scaled by the largest absolute value."""
    values = frame.to_numpy(dtype="float64")
    scale = np.nanmax(np.abs(values)) if np.isfinite(values).any() else 0.0
    scale = scale if scale > 0 else 1.0
    rgba = colormaps["RdYlGn"](0.5 + 0.5 * np.clip(np.nan_to_num(values) / scale, -1, 1) * 0.85)
    hexes = np.array([to_hex(c) for c in rgba.reshape(-1, 4)]).reshape(values.shape)
    return pd.DataFrame(np.where(np.isnan(values), "#ffffff", hexes), index=frame.index, columns=frame.columns)


def _inline(entry: dict) -> str:
    """A config entry on one line: ``key: value, key: value``."""
    return ", ".join(f"{k}: {v}" for k, v in entry.items())


def _version() -> str:
    """The installed simlab's version, for the page's footer."""
    try:
        return metadata.version("simlab")
    except metadata.PackageNotFoundError:
        return "(version unknown)"
