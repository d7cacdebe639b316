"""``stadtpuls api``: serve the query API with uvicorn."""

from __future__ import annotations

import click


@click.command("api")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
def api_command(host: str, port: int) -> None:
    """Serve the query API (FastAPI) with uvicorn."""
    import uvicorn

    from api.app import create_app
    from devices.catalog import check_catalog

    check_catalog()

    uvicorn.run(create_app(), host=host, port=port, log_level="info")
