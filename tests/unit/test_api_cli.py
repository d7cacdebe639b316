"""``stadtpuls api``: the access log can be switched off (a proxy in front may log the requests instead)."""

from __future__ import annotations

from typing import Any

import pytest
import uvicorn
from click.testing import CliRunner

from api.cli import api_command


@pytest.mark.parametrize(("flags", "logged"), [([], True), (["--no-access-log"], False), (["--access-log"], True)])
def test_the_access_log_follows_the_flag(monkeypatch: pytest.MonkeyPatch, flags: list[str], logged: bool) -> None:
    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.update(options))
    monkeypatch.setattr("api.app.create_app", lambda: object())
    result = CliRunner().invoke(api_command, ["--port", "8123", *flags])
    assert result.exit_code == 0, result.output
    assert served["access_log"] is logged
    assert served["port"] == 8123
