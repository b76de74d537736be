"""Runtime settings, read once from the environment.

Everything that differs between a laptop demo and a province deployment is an
environment variable, so that no secret and no path ever needs to live in the
repository.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    key_file: Path
    session_secret_file: Path
    # Seconds between rounds of the access-log sealer (the window in which a
    # pending entry is not yet chained; see dancu.audit.services).
    audit_seal_interval: float = 0.25
    # Reverse proxies (addresses, networks, or "*") whose X-Forwarded-For and
    # X-Forwarded-Proto are believed; nobody's by default (docs/deployment.md).
    trusted_proxies: tuple[str, ...] = ()
    # Where citizens and relying parties reach this deployment (DANCU_PUBLIC_URL), and the
    # OpenID Connect issuer (DANCU_OIDC_ISSUER, by default the public URL). Never taken from a
    # request's Host header, which the client chooses (docs/oidc.md).
    public_url: str | None = None
    oidc_issuer: str | None = None

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")


def _default_data_dir() -> Path:
    return Path(os.environ.get("DANCU_DATA_DIR", Path.cwd() / ".dancu"))


@lru_cache
def get_settings() -> Settings:
    data_dir = _default_data_dir()
    database_url = os.environ.get("DANCU_DATABASE_URL") or f"sqlite:///{data_dir / 'dancu.sqlite3'}"
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")
    key_file = Path(os.environ.get("DANCU_KEY_FILE", data_dir / "keys" / "master.key"))
    session_secret_file = key_file.with_name("session.key")
    public_url = (os.environ.get("DANCU_PUBLIC_URL") or "").rstrip("/") or None
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        key_file=key_file,
        session_secret_file=session_secret_file,
        audit_seal_interval=float(os.environ.get("DANCU_AUDIT_SEAL_INTERVAL", "0.25")),
        trusted_proxies=tuple(part.strip() for part in os.environ.get("DANCU_TRUSTED_PROXIES", "").split(",")
                              if part.strip()),
        public_url=public_url,
        oidc_issuer=(os.environ.get("DANCU_OIDC_ISSUER") or "").rstrip("/") or public_url,
    )
