"""KPI reports as their readers get them: Jinja2 HTML with plotly charts, printed to PDF by WeasyPrint.

Charts are drawn as SVG by one headless Chrome per report run (kaleido's sync server): starting Chrome costs
about as much as all the charts together, so it is started once, not per chart. The HTML embeds the same SVGs,
so the HTML version needs nothing beside it.
"""

from __future__ import annotations

import base64
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import kaleido
import plotly.graph_objects as go
import plotly.io as pio
from babel.dates import format_date, format_datetime
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from plotly.subplots import make_subplots
from weasyprint import HTML

from reports.formats import company_figure, kpi_figure, money, or_dash, unknown_notes

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = PROJECT_ROOT / "reports" / "templates" / "kpi"
FONT = "DejaVu Sans, Arial, sans-serif"
PALETTE = ["#1f4e79", "#c55a11", "#548235", "#7f6000", "#7030a0", "#2e75b6"]


class Charts:
    """One Chrome for every chart of a report run: ``with Charts() as charts: charts.svg(figure)``."""

    def __enter__(self) -> Charts:
        kaleido.start_sync_server(silence_warnings=True)
        # Chrome starts on the first figure: draw an empty one in the background, while the caller computes.
        self._starter = ThreadPoolExecutor(1)
        self._started = self._starter.submit(self._start)
        return self

    def _start(self) -> float:
        started = time.perf_counter()
        self._draw(go.Figure(), 10, 10)
        return time.perf_counter() - started

    @property
    def start_seconds(self) -> float:
        return self._started.result()

    def __exit__(self, *exc) -> None:
        self._starter.shutdown()
        kaleido.stop_sync_server(silence_warnings=True)

    def svg(self, figure: go.Figure, width: int = 720, height: int = 300) -> str:
        """The chart as an SVG data URI for an <img>: sharp at any zoom, and the HTML stays one file."""
        self._started.result()
        return self._draw(figure, width, height)

    @staticmethod
    def _draw(figure: go.Figure, width: int, height: int) -> str:
        with warnings.catch_warnings():  # plotly passes Chrome options the running server already has
            warnings.simplefilter("ignore", UserWarning)
            image = pio.to_image(figure, format="svg", width=width, height=height)
        return "data:image/svg+xml;base64," + base64.b64encode(image).decode("ascii")


def _layout(figure: go.Figure, title: str, brand: str) -> go.Figure:
    figure.update_layout(template="simple_white", title={"text": title, "x": 0, "font": {"size": 14, "color": brand}},
                         font={"family": FONT, "size": 11, "color": "#333"},
                         margin={"l": 60, "r": 20, "t": 40, "b": 40},
                         legend={"orientation": "h", "y": -0.18, "x": 0}, colorway=PALETTE)
    return figure


def aging_mix_figure(pivot: list[dict], labels: list[str], brand: str) -> go.Figure:
    """Each currency's open AR split by days past due, in percent: currencies compare without being added up."""
    colours = ["#548235", "#a9d18e", "#ffd966", "#f4b183", "#c00000", "#7f0000"]
    figure = go.Figure()
    for n, label in enumerate(labels):
        shares = [_share(row["buckets"][n], row["total_cents"]) for row in pivot]
        figure.add_trace(go.Bar(
            y=[row["currency"] for row in pivot], x=shares, orientation="h", marker_color=colours[n % len(colours)],
            name="not due" if n == 0 else f"{label} days", text=[f"{v:.0f}%" if v >= 7 else "" for v in shares],
            textposition="inside", insidetextanchor="middle"))
    figure.update_xaxes(range=[0, 100], ticksuffix="%", title=None)
    figure.update_yaxes(autorange="reversed")
    return _layout(figure, "Open AR by days past due, share of each currency", brand).update_layout(barmode="stack")


def _share(part: int, whole: int) -> float:
    """A percentage for a chart coordinate (the tables carry the exact amounts)."""
    return 0.0 if whole <= 0 else round(100 * part / whole, 1)


def trend_figure(trend: list[dict], currencies: list[str], brand: str) -> go.Figure:
    """Countback DSO and CEI per month for ``currencies``; a month without sales is a gap, not a zero."""
    figure = make_subplots(rows=1, cols=2, subplot_titles=("DSO (countback), days", "CEI, %"),
                           horizontal_spacing=0.1)
    for n, currency in enumerate(currencies):
        points = [r for r in trend if r["currency"] == currency]
        months = [format_date(r["month_end"], "MMM yy", locale="en") for r in points]
        for col, key in ((1, "dso_countback"), (2, "cei")):
            figure.add_trace(go.Scatter(x=months, y=[_number(r[key]) for r in points], name=currency,
                                        mode="lines+markers", line={"color": PALETTE[n % len(PALETTE)]},
                                        showlegend=col == 1, connectgaps=False), row=1, col=col)
    figure.update_annotations(font={"size": 12})
    figure.update_xaxes(tickangle=0, nticks=7)
    return _layout(figure, "", brand).update_layout(margin={"t": 30})


def collector_figure(rows: list[dict], currencies: list[str], brand: str) -> go.Figure:
    """CEI of each collector's portfolio over the period, one bar per currency in ``currencies``."""
    figure = go.Figure()
    for n, currency in enumerate(currencies):
        mine = [r for r in rows if r["currency"] == currency]
        figure.add_trace(go.Bar(x=[r["collector"] for r in mine], y=[_number(r["cei"]) for r in mine], name=currency,
                                marker_color=PALETTE[n % len(PALETTE)]))
    figure.update_yaxes(title="CEI %", range=[0, 100])
    figure.update_xaxes(tickangle=0)
    return _layout(figure, "Collection effectiveness by collector", brand).update_layout(barmode="group")


def _number(value: Decimal | None) -> float | None:
    """Days and percentages (never money) as plotly's coordinates."""
    return None if value is None else float(value)


def environment(locale: str) -> Environment:
    """Templates with the formatting a reader expects: money per currency and locale, days, percentages, dates."""
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(("html.j2",)),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["money"] = lambda cents, currency: "unknown" if cents is None else money(int(cents), currency, locale)
    env.filters["kpi"] = lambda figures, name: kpi_figure(figures, name, locale)
    env.filters["company_figure"] = lambda figure, unit, currency: company_figure(figure, unit, currency, locale)
    env.filters["pct"] = lambda v: or_dash(v, " %")
    env.filters["rate"] = lambda r: f"{r:.7g}"  # a cross rate has 28 digits; figures convert at full precision
    env.filters["unknown_notes"] = unknown_notes
    env.filters["day"] = lambda d: format_date(d, "d MMM yyyy", locale=locale)
    env.filters["stamp"] = lambda t: format_datetime(t, "d MMM yyyy, HH:mm zzz", locale=locale)
    env.filters["bucket"] = lambda b: "not due" if b == "not_due" else f"{b} days"
    return env


def render_html(template: str, context: dict, locale: str) -> str:
    return environment(locale).get_template(f"{template}.html.j2").render(context)


def write_report(html: str, folder: Path, name: str) -> tuple[Path, Path]:
    """The HTML and its PDF side by side; returns (pdf, html)."""
    folder.mkdir(parents=True, exist_ok=True)
    html_path, pdf_path = folder / f"{name}.html", folder / f"{name}.pdf"
    html_path.write_text(html, encoding="utf-8")
    HTML(string=html, base_url=str(PROJECT_ROOT)).write_pdf(pdf_path)
    return pdf_path, html_path


def target_met(value: Decimal | None, target: Decimal | None, higher_is_better: bool) -> bool | None:
    if value is None or target is None:
        return None
    return value >= target if higher_is_better else value <= target


PARTIAL_PERIOD_DAYS = 7  # a period shorter than a week is labelled partial: its sales and CEI say little


def period_label(start: date, end: date, locale: str) -> str:
    days = (end - start).days + 1
    partial = f" (partial period: {days} day{'s' if days > 1 else ''})" if days < PARTIAL_PERIOD_DAYS else ""
    return f"{format_date(start, 'd MMM', locale=locale)} – {format_date(end, 'd MMM yyyy', locale=locale)}{partial}"


def generated_at(now: datetime | None, zone) -> datetime:
    return (now or datetime.now(zone)).astimezone(zone)
