"""The report's pictures, drawn with matplotlib as SVG: readable on a black-and-white printout and for colour-blind
readers. Series differ by hatching and edge, not by colour alone, and the colours are the Okabe-Ito palette; the
heatmap uses a sequential ColorBrewer scale (YlGnBu) whose lightness rises with the value, so it prints as grey.
"""

from __future__ import annotations

import io
from typing import Any

import matplotlib as mpl
from matplotlib.figure import Figure

from reports.footfall.data import WeekReport
from reports.footfall.text import WORDS, number, weekday

# Okabe & Ito (2008): distinguishable with every common colour-vision deficiency
BLUE, SKY, ORANGE, GREEN, VERMILLION = "#0072B2", "#56B4E9", "#E69F00", "#009E73", "#D55E00"
HEATMAP = "YlGnBu"
WIDTH = 6.7  # inches: an A4 page minus margins
_STYLE: Any = {"font.size": 8.5, "axes.spines.top": False, "axes.spines.right": False,
                          "hatch.linewidth": 0.6, "svg.fonttype": "path", "svg.hashsalt": "stadtpuls"}


def _svg(figure: Figure) -> bytes:
    out = io.BytesIO()
    figure.savefig(out, format="svg", bbox_inches="tight", metadata={"Date": None})
    return out.getvalue()


def _thousands(lang: str) -> Any:
    return mpl.ticker.FuncFormatter(lambda value, _: number(value, lang))


def daily_bars(report: WeekReport, lang: str) -> bytes:
    """People per day: this week, the week before and the same week last year side by side (SVG)."""
    words = WORDS[lang]
    with mpl.rc_context(_STYLE):
        figure = Figure(figsize=(WIDTH, 2.2))
        axes = figure.add_subplot()
        labels = [weekday(d.day, lang, short=True) for d in report.days]
        series = [
            (f"{report.week} ({words['this_week']})", [d.total for d in report.days], BLUE, ""),
            (f"{report.previous_week} ({words['previous']})", [d.previous or 0 for d in report.days], SKY, "///"),
            (f"{report.last_year_week} ({words['last_year']})", [d.last_year or 0 for d in report.days], ORANGE,
             "..."),
        ]
        width = 0.27
        for n, (label, values, colour, hatch) in enumerate(series):
            positions = [x + (n - 1) * width for x in range(7)]
            axes.bar(positions, values, width, label=label, color=colour, hatch=hatch, edgecolor="black",
                     linewidth=0.6)
        estimated = [x - width for x, d in enumerate(report.days) if d.estimated > 0]
        if estimated:
            tops = [report.days[round(x + width)].total for x in estimated]
            axes.plot(estimated, tops, linestyle="none", marker="*", color="black", markersize=7,
                      label=words["estimated_mark"])
        axes.set_xticks(range(7), labels)
        axes.yaxis.set_major_formatter(_thousands(lang))
        axes.set_ylabel(words["people"])
        axes.grid(axis="y", linewidth=0.4, color="#999999")
        axes.set_axisbelow(True)
        axes.legend(frameon=False, ncols=2, loc="upper left", bbox_to_anchor=(0, 1.22), fontsize=7.5)
        return _svg(figure)


def heatmap(report: WeekReport, lang: str) -> bytes:
    """People per local hour (columns) and weekday (rows), a sequential scale with the values written in (SVG)."""
    words = WORDS[lang]
    with mpl.rc_context(_STYLE):
        figure = Figure(figsize=(WIDTH, 2.9))
        axes = figure.add_subplot()
        hours = [h for h in range(24) if any(row[h] > 0 for row in report.matrix)] or list(range(24))
        first, last = hours[0], hours[-1]
        cells = [list(row[first:last + 1]) for row in report.matrix]
        image = axes.imshow(cells, cmap=HEATMAP, aspect="auto", vmin=0)
        top = max((max(row) for row in cells), default=0) or 1
        for y, row in enumerate(cells):
            for x, value in enumerate(row):
                shade = "white" if value > 0.6 * top else "black"
                axes.text(x, y, _short(value, lang), ha="center", va="center", fontsize=5.2, color=shade)
        axes.set_yticks(range(7), [weekday(d.day, lang, short=True) for d in report.days])
        axes.set_xticks(range(last - first + 1), [str(h) for h in range(first, last + 1)])
        axes.set_xlabel(f"{'Stunde (Ortszeit)' if lang == 'de' else 'hour (local time)'}")
        axes.spines[:].set_visible(False)
        bar = figure.colorbar(image, ax=axes, fraction=0.04, pad=0.02, format=_thousands(lang))
        bar.set_label(words["per_hour"])
        return _svg(figure)


def _short(value: float, lang: str) -> str:
    """A cell's value in at most four characters: ``12k``, ``1,2k`` (de) / ``1.2k``, ``640``."""
    if value >= 9950:
        return f"{value / 1000:.0f}k"
    if value >= 1000:
        text = f"{value / 1000:.1f}k"
        return text.replace(".", ",") if lang == "de" else text
    return str(round(value))


def location_shares(report: WeekReport, lang: str) -> bytes:
    """Each counting location's share of the week as horizontal bars, the share written beside each (SVG)."""
    words = WORDS[lang]
    with mpl.rc_context(_STYLE):
        shares = list(report.locations)[:12]
        figure = Figure(figsize=(WIDTH, 0.3 * len(shares) + 0.6))
        axes = figure.add_subplot()
        hatches = ["", "///", "...", "xxx", "\\\\\\", "ooo"]
        colours = [BLUE, SKY, ORANGE, GREEN, VERMILLION, "#CC79A7"]
        sites = sorted({s.site for s in shares})
        for y, share in enumerate(shares):
            at = sites.index(share.site)
            axes.barh(y, share.share, color=colours[at % len(colours)], hatch=hatches[at % len(hatches)],
                      edgecolor="black", linewidth=0.6, label=share.site if share.site not in
                      [s.site for s in shares[:y]] else None)
            axes.text(share.share + 0.4, y, f"{share.share:.1f} %".replace(".", "," if lang == "de" else "."),
                      va="center", fontsize=7)
        axes.set_yticks(range(len(shares)), [s.label for s in shares])
        axes.invert_yaxis()
        axes.set_xlabel(f"{words['share']} (%)")
        axes.set_xlim(0, max((s.share for s in shares), default=1) * 1.18)
        if len(sites) > 1:
            axes.legend(frameon=False, loc="lower right", fontsize=7)
        return _svg(figure)
