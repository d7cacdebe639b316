"""The report mail, sent to a real SMTP server (aiosmtpd) started by the test on a free loopback port."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from reports.footfall.schedule import MailError, Request, file_name, mail_configured, send_report
from reports.footfall.weeks import parse_week
from stadtpuls.errors import ConfigError
from stadtpuls.settings import ReportSettings, load_settings


class Inbox:
    """Keeps every message the server accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_the_report_is_mailed_as_an_attachment(smtp: tuple[Inbox, int], tmp_path: Path) -> None:
    inbox, port = smtp
    report = tmp_path / "footfall-lindenbrueck-2026-W47-de.pdf"
    report.write_bytes(b"%PDF-1.7 a report")
    settings = ReportSettings(smtp_host="127.0.0.1", smtp_port=port, smtp_tls="none", smtp_from="bericht@stadt.example",
                              smtp_to="citymanagement@stadt.example, markt@stadt.example")
    assert mail_configured(settings)
    send_report(settings, report, subject="Passantenfrequenz Lindenbrück 2026-W47", body="Anbei der Bericht.")
    [(recipients, message)] = inbox.messages
    assert recipients == ["citymanagement@stadt.example", "markt@stadt.example"]
    assert message["Subject"] == "Passantenfrequenz Lindenbrück 2026-W47"
    [attachment] = [part for part in message.walk() if part.get_filename()]
    assert attachment.get_filename() == report.name
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_payload(decode=True) == b"%PDF-1.7 a report"


def test_an_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    report = tmp_path / "r.html"
    report.write_text("<p>x</p>")
    settings = ReportSettings(smtp_host="127.0.0.1", smtp_port=free_port(), smtp_tls="none", smtp_to="a@b.example")
    with pytest.raises(MailError, match=r"127\.0\.0\.1"):
        send_report(settings, report, subject="s", body="b")


def test_mail_needs_a_host_and_recipients() -> None:
    assert not mail_configured(ReportSettings(smtp_host="mail.example"))
    assert not mail_configured(ReportSettings(smtp_to="a@b.example"))


def test_report_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STADTPULS_REPORT_TOWN", "Stadt Lindenbrück")
    monkeypatch.setenv("STADTPULS_REPORT_OPENING", "9-19")
    settings = load_settings().report
    assert settings.town == "Stadt Lindenbrück"
    assert settings.opening_hours == (9, 19)
    monkeypatch.setenv("STADTPULS_REPORT_OPENING", "20-10")
    with pytest.raises(ConfigError, match="STADTPULS_REPORT_OPENING"):
        load_settings()
    monkeypatch.setenv("STADTPULS_REPORT_OPENING", "10-20")
    monkeypatch.setenv("STADTPULS_REPORT_SMTP_TLS", "maybe")
    with pytest.raises(ConfigError, match="STADTPULS_REPORT_SMTP_TLS"):
        load_settings()


def test_file_names_are_safe_slugs() -> None:
    request = Request(parse_week("2026-W47"), "Lindenbrück/../Ä b", lang="en", fmt="html")
    assert file_name(request) == "footfall-lindenbrueck-ae-b-2026-W47-en.html"
