"""`dancu serve`: the web application under uvicorn."""

from __future__ import annotations

import typer
import uvicorn


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on; 0.0.0.0 exposes the console to the network."),
    port: int = typer.Option(8000, help="TCP port."),
    reload: bool = typer.Option(False, help="Restart on code changes (development only)."),
) -> None:
    """Run the registrar console and the REST API."""
    # The app believes forwarded headers from DANCU_TRUSTED_PROXIES only; uvicorn's own
    # default would also trust 127.0.0.1 (docs/deployment.md).
    uvicorn.run("dancu.web.app:create_app", factory=True, host=host, port=port, reload=reload, proxy_headers=False)
