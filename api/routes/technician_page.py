"""``/technician``: the technicians' page, served by the API process with everything it loads (no CDN).

The HTML is a server-rendered shell; its script fills it from ``/v1/technician`` with the key the technician
signs in with, and sets every text it shows as text, never as HTML. A strict Content-Security-Policy allows
only this origin's script and style, images from the configured map tiles, and no framing.
"""

from __future__ import annotations

import html
from functools import cache
from pathlib import Path
from string import Template
from urllib.parse import urlsplit

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse

from api.deps import SettingsDep
from api.problems import Problem

router = APIRouter(tags=["technician page"], include_in_schema=False)

HERE = Path(__file__).resolve().parents[1]
TEMPLATE = HERE / "templates" / "technician.html"
STATIC = HERE / "static"
ASSETS = {"technician.js": "text/javascript", "technician.css": "text/css"}
SAFETY = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@cache
def _template() -> Template:
    return Template(TEMPLATE.read_text(encoding="utf-8"))


def content_security_policy(tiles: str) -> str:
    """The page's policy: own script, style and API; images also from the map tiles' origin."""
    images = "'self' data:"
    if tiles:
        parts = urlsplit(tiles)
        images += f" {parts.scheme}://{parts.netloc}"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        f"img-src {images}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )


@router.get("/technician", response_class=HTMLResponse)
async def page(settings: SettingsDep) -> HTMLResponse:
    """The page."""
    body = _template().substitute(tiles=html.escape(settings.map_tiles, quote=True))
    headers = SAFETY | {"Content-Security-Policy": content_security_policy(settings.map_tiles),
                        "Cache-Control": "no-cache"}
    return HTMLResponse(body, headers=headers)


@router.get("/technician/static/{name}")
async def asset(name: str) -> FileResponse:
    """The page's script and style sheet (nothing else is served from here)."""
    if name not in ASSETS:
        raise Problem(404, f"no such file: {name}", param="name")
    return FileResponse(STATIC / name, media_type=ASSETS[name],
                        headers=SAFETY | {"Cache-Control": "public, max-age=300"})
