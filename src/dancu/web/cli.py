"""`dancu serve`: the web application under uvicorn."""

from __future__ import annotations

import typer
import uvicorn

from dancu.config import get_settings
from dancu.identity.oidc.server import valid_issuer


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on; 0.0.0.0 exposes the console to the network."),
    port: int = typer.Option(8000, help="TCP port."),
    reload: bool = typer.Option(False, help="Restart on code changes (development only)."),
) -> None:
    """Run the registrar console and the REST API."""
    issuer = get_settings().oidc_issuer
    if not issuer or not valid_issuer(issuer):
        # The OpenID Connect provider must know its own address: taking it from requests would
        # let any client's Host header rename the issuer (docs/oidc.md).
        typer.secho("refusing to start: set DANCU_OIDC_ISSUER (or DANCU_PUBLIC_URL) to the URL at which relying "
                    f"parties reach this server, such as https://id.example.gov.vn (got {issuer!r})",
                    err=True, fg=typer.colors.RED)
        raise typer.Exit(2)
    # The app believes forwarded headers from DANCU_TRUSTED_PROXIES only; uvicorn's own
    # default would also trust 127.0.0.1 (docs/deployment.md).
    uvicorn.run("dancu.web.app:create_app", factory=True, host=host, port=port, reload=reload, proxy_headers=False)
