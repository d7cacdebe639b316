"""Make one report from the database, write it to a file, mail it; and the weekly loop that does so each week
once the week is complete.
"""

from __future__ import annotations

import asyncio
import logging
import re
import smtplib
import ssl
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from functools import partial
from pathlib import Path

from reports.footfall.anomalies import load_anomalies, stored_anomalies
from reports.footfall.data import Options, WeekReport, gather
from reports.footfall.weeks import IsoWeek, last_complete_week
from stadtpuls.calendar import load_calendar
from stadtpuls.errors import UnavailableError
from stadtpuls.influx import InfluxClient
from stadtpuls.settings import ReportSettings, Settings

log = logging.getLogger(__name__)
MIME = {"pdf": ("application", "pdf"), "html": ("text", "html")}
GRACE = timedelta(hours=6)  # after the week's end, for late uplinks and the processing pass
CHECK_EVERY = 3600.0  # s between looks for a newly completed week
SMTP_TIMEOUT = 30.0  # s
# Rendering (matplotlib, WeasyPrint) takes seconds of CPU: it runs in a small pool of its own, off the event loop,
# so that many report requests at once neither block the API nor take the threads that key lookups need.
RENDERERS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="report-render")


class MailError(UnavailableError):
    """The SMTP server could not be reached or refused the mail."""


@dataclass(frozen=True)
class Request:
    """What to report on: the week, the town, the sites, the language and the format."""

    week: IsoWeek
    municipality: str
    sites: tuple[str, ...] = ()
    lang: str = "de"
    fmt: str = "pdf"
    anomalies: Path | None = None  # a JSON file of events; None: the anomaly events store


def file_name(request: Request) -> str:
    """``footfall-lindenbrueck-2026-W47-de.pdf``: the municipality as a safe slug."""
    slug = re.sub(r"[^a-z0-9]+", "-", request.municipality.lower().translate(_UMLAUTS)).strip("-") or "town"
    return f"footfall-{slug}-{request.week}-{request.lang}.{request.fmt}"


_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


async def gather_report(client: InfluxClient, settings: Settings, request: Request, *,
                        labels: dict[str, str] | None = None, now: datetime | None = None) -> WeekReport:
    """Gather the week of ``request`` from InfluxDB through ``client``, with its anomalies from the events store
    (or the request's file).

    Raises:
        stadtpuls.errors.StadtpulsError: bad settings or files, an unreachable database.
    """
    report_settings = settings.report
    options = Options(municipality=request.municipality, town=report_settings.town, sites=request.sites,
                      opening=report_settings.opening_hours, labels=labels or {})
    calendar = load_calendar(report_settings.calendar or settings.calendar)
    if request.anomalies is not None:
        anomalies = load_anomalies(request.anomalies)
    else:
        anomalies = await asyncio.to_thread(stored_anomalies, settings.registry_url, request.municipality,
                                            request.week, options.zone)
    return await gather(client, request.week, options, calendar=calendar, anomalies=anomalies, now=now)


async def render_report(report: WeekReport, lang: str, fmt: str, *, logo: Path | None = None) -> bytes:
    """:func:`reports.footfall.render.render` in the renderers' thread pool."""
    # matplotlib, Babel and the templates load with the first report, not with the API
    from reports.footfall.render import render

    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(RENDERERS, partial(render, report, lang, fmt, logo=logo))


async def make_report(settings: Settings, request: Request, *, labels: dict[str, str] | None = None,
                      now: datetime | None = None) -> tuple[WeekReport, bytes]:
    """Gather the week from InfluxDB and render it.

    Raises:
        stadtpuls.errors.StadtpulsError: bad settings or files, an unreachable database.
    """
    async with InfluxClient.from_settings(settings.influx) as client:
        report = await gather_report(client, settings, request, labels=labels, now=now)
    content = await render_report(report, request.lang, request.fmt, logo=settings.report.logo)
    return report, content


def mail_configured(settings: ReportSettings) -> bool:
    """Whether an SMTP server and recipients are set."""
    return bool(settings.smtp_host and settings.recipients)


def send_report(settings: ReportSettings, path: Path, *, subject: str, body: str) -> None:
    """Mail ``path`` as an attachment to the configured recipients.

    Raises:
        MailError: the server cannot be reached, the login or a recipient is refused.
    """
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings.smtp_from or f"stadtpuls@{settings.smtp_host}"
    message["To"] = ", ".join(settings.recipients)
    message.set_content(body)
    main, sub = MIME.get(path.suffix.lstrip("."), ("application", "octet-stream"))
    message.add_attachment(path.read_bytes(), maintype=main, subtype=sub, filename=path.name)
    try:
        with _connect(settings) as smtp:
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password)
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"cannot mail the report through {settings.smtp_host}:{settings.smtp_port}: {exc}") from exc


def _connect(settings: ReportSettings) -> smtplib.SMTP:
    if settings.smtp_tls == "ssl":
        return smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT,
                                context=ssl.create_default_context())
    smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT)
    if settings.smtp_tls == "starttls":
        smtp.starttls(context=ssl.create_default_context())
    return smtp


async def run_once(settings: Settings, directory: Path, *, municipality: str, sites: tuple[str, ...] = (),
                   lang: str = "de", fmt: str = "pdf", now: datetime | None = None,
                   labels: dict[str, str] | None = None) -> Path | None:
    """Write and mail the report of the last complete week unless done before; returns its file, None if done.

    The file is written under a temporary name and renamed, so a crash never leaves half a report that would be
    taken for done; a mail that failed is sent again at the next call (a ``.mailed`` marker records success).
    """
    now = now or datetime.now(UTC)
    request = Request(last_complete_week(now, grace=GRACE), municipality, sites, lang, fmt)
    target = directory / file_name(request)
    mailed = target.with_name(target.name + ".mailed")  # written once the mail went out
    mail = mail_configured(settings.report)
    written, sent = await asyncio.to_thread(_state, target, mailed)
    if written and (not mail or sent):
        return None
    if not written:
        _report, content = await make_report(settings, request, labels=labels, now=now)
        await asyncio.to_thread(_store, target, content)
        log.info("wrote %s", target)
    if mail:
        town = settings.report.town or municipality
        subject = (f"Passantenfrequenz {town} {request.week}" if lang == "de" else f"Footfall {town} {request.week}")
        await asyncio.to_thread(send_report, settings.report, target, subject=subject, body=subject)
        await asyncio.to_thread(mailed.write_text, datetime.now(UTC).isoformat(), encoding="utf-8")
        log.info("mailed %s to %s", target.name, ", ".join(settings.report.recipients))
    return target


def _state(target: Path, mailed: Path) -> tuple[bool, bool]:
    return target.exists(), mailed.exists()


def _store(target: Path, content: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(content)
    partial.replace(target)


async def every_week(settings: Settings, directory: Path, *, municipality: str, sites: tuple[str, ...] = (),
                     lang: str = "de", fmt: str = "pdf", labels: dict[str, str] | None = None) -> None:
    """Run :func:`run_once` every hour, forever: each week's report appears once the week is complete.

    A failure (database or mail server down) is logged and tried again at the next look.
    """
    while True:
        try:
            await run_once(settings, directory, municipality=municipality, sites=sites, lang=lang, fmt=fmt,
                           labels=labels)
        except UnavailableError as exc:
            log.warning("report not made this time: %s", exc)
        await asyncio.sleep(CHECK_EVERY)
