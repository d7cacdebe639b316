"""The report as a document: HTML from a Jinja2 template (every value escaped, pictures embedded as data URIs),
and PDF from that HTML with WeasyPrint (A4, running header with the town and the week, page numbers).
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from reports.footfall import plots, text
from reports.footfall.data import WeekReport, change
from stadtpuls.errors import ConfigError

FORMATS = ("pdf", "html")
MAX_LOGO = 2_000_000  # bytes
LOGO_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}
MAX_GAP_ROWS = 40  # gap ranges listed; the rest are counted
MAX_ANOMALY_ROWS = 30  # anomalies listed; the rest are counted


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("reports.footfall", "templates"), autoescape=select_autoescape(["j2"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["css_string"] = css_string
    return env


def css_string(value: object) -> Markup:
    """A CSS string literal of ``value`` (quotes, backslashes, ``<`` and control characters as hex escapes)."""
    escaped = re.sub(r'["\\<>&\x00-\x1f\x7f]', lambda m: f"\\{ord(m.group(0)):x} ", str(value))
    return Markup(f'"{escaped}"')  # noqa: S704 - every special character is escaped above


def data_uri(content: bytes, mime: str) -> str:
    """``data:<mime>;base64,...``."""
    return f"data:{mime};base64,{base64.b64encode(content).decode('ascii')}"


def load_logo(path: Path | None) -> str | None:
    """The logo as a data URI, or None.

    Raises:
        ConfigError: the file is missing, too large or not PNG, JPEG or SVG.
    """
    if path is None:
        return None
    mime = LOGO_TYPES.get(path.suffix.lower())
    if mime is None:
        raise ConfigError(f"report logo {path}: must be one of {', '.join(LOGO_TYPES)}")
    try:
        if path.stat().st_size > MAX_LOGO:
            raise ConfigError(f"report logo {path}: larger than {MAX_LOGO} bytes")
        return data_uri(path.read_bytes(), mime)
    except OSError as exc:
        raise ConfigError(f"report logo {path}: {exc}") from exc


def render_html(report: WeekReport, lang: str, *, logo: Path | None = None, for_print: bool = False) -> str:
    """The report as one self-contained HTML page."""
    text.check_lang(lang)
    svg = "image/svg+xml"
    pictures = {
        "days": data_uri(plots.daily_bars(report, lang), svg),
        "heatmap": data_uri(plots.heatmap(report, lang), svg),
        "locations": data_uri(plots.location_shares(report, lang), svg),
    }
    template = _environment().get_template("footfall.html.j2")
    return template.render(
        r=report, lang=lang, w=text.WORDS[lang], t=text, change=change, summary=text.summary(report, lang),
        pictures=pictures, logo=load_logo(logo), for_print=for_print, max_gaps=MAX_GAP_ROWS,
        max_anomalies=MAX_ANOMALY_ROWS,
        generated=text.moment(report.generated.astimezone(ZoneInfo(report.zone)), lang),
    )


def render_pdf(report: WeekReport, lang: str, *, logo: Path | None = None) -> bytes:
    """The report as an A4 PDF."""
    from weasyprint import HTML

    document = HTML(string=render_html(report, lang, logo=logo, for_print=True))
    pdf = document.write_pdf()
    assert pdf is not None
    return bytes(pdf)


def render(report: WeekReport, lang: str, fmt: str, *, logo: Path | None = None) -> bytes:
    """The report in ``fmt`` (pdf or html) as bytes.

    Raises:
        ValueError: an unknown format or language.
    """
    if fmt == "pdf":
        return render_pdf(report, lang, logo=logo)
    if fmt == "html":
        return render_html(report, lang, logo=logo).encode("utf-8")
    raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
