"""OpenID Connect provider: dancu against django-oauth-toolkit, in the same run, on the same PostgreSQL server.

    python bench/bench_oidc.py --database-url postgresql://dancu:dancu@localhost/dancu_bench

Two databases on that server are dropped and recreated: <name>_oidc for dancu
and <name>_dot for the baseline (bench/dot_baseline.py: django-oauth-toolkit
with OIDC on, PKCE required, RS256, rotated refresh tokens, consent skipped as
dancu skips a remembered one). Both run under uvicorn with the same number of
worker processes. Two measurements, each taken alternately on both systems:

- full flow: an already logged-in browser session asks the authorization
  endpoint for a code (consent remembered), the relying party exchanges it
  with its secret and the PKCE verifier, then calls userinfo; flows per second
  with --clients concurrent clients, and the latency of one flow;
- token endpoint: codes minted beforehand (not timed), then exchanged by
  --clients concurrent clients; exchanges per second.

Not identical work: dancu's userinfo reads the citizen from the population
register and writes an access-log entry (the read is audited); the baseline
returns the name kept on its user row.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).parent))
from common import summary_ms, write_result  # noqa: E402

CALLBACK = "http://localhost:8765/callback"
PIN = "079090000123"
PASSWORD = "mat-khau-rat-dai-2026"
SCOPE = "openid profile"


@dataclass
class Provider:
    name: str
    base: str
    authorize: str
    token: str
    userinfo: str
    client_id: str
    secret: str
    cookies: dict


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _recreate(admin_url: str, name: str) -> str:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def _setup_dancu(url: str, data_dir: Path) -> tuple[str, str]:
    """Migrated database, one citizen with an e-ID account, a confidential relying party and the consent."""
    os.environ.update(DANCU_DATABASE_URL=url, DANCU_DATA_DIR=str(data_dir),
                      DANCU_KEY_FILE=str(data_dir / "keys" / "master.key"))
    import datetime as dt

    from dancu import crypto, migrate
    from dancu.accounts.models import Role
    from dancu.accounts.services import SYSTEM, Actor
    from dancu.db import session_scope
    from dancu.identity.eid import services as eid
    from dancu.identity.oidc import services as oidc
    from dancu.registry import services as registry
    from dancu.registry.models import Sex
    from dancu.registry.schemas import PermanentResidenceInput, PersonRegistration
    from dancu.units import services as units

    crypto.ensure_master_key()
    migrate.upgrade()
    with session_scope() as session:
        commune = units.list_communes(session, "79")[0]
        person = registry.register_person(session, SYSTEM, PersonRegistration(
            family_name="Nguyễn", middle_name="Văn", given_name="An", birth_date="1990-05-17", sex=Sex.MALE,
            birth_registration_unit_id=commune.id, hometown_unit_id=commune.id, ethnicity_code=1, pin=PIN))
        registry.register_permanent_residence(session, SYSTEM, person, PermanentResidenceInput(
            unit_id=commune.id, address_line="12 Lê Lợi", effective_on=dt.date(2020, 1, 1)))
    with session_scope() as session:
        account = eid.create_account(session, pin=PIN, phone="0912345678", password=PASSWORD, level=1)
        client, secret = oidc.register_client(session, Actor("bench", Role.ADMIN), oidc.Registration(
            name="Bench RP", redirect_uris=[CALLBACK], post_logout_redirect_uris=[],
            allowed_claims=["name", "birthdate"]))
        asked = oidc.requested_claims(client, SCOPE)
        oidc.remember_consent(session, account, client.client_id, asked, asked)
        oidc.signing_key(session)
        return client.client_id, secret


def _dancu_cookies(base: str) -> dict:
    with httpx.Client(base_url=base) as browser:
        page = browser.get("/eid/login").text
        token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        answer = browser.post("/eid/login", data={"pin": PIN, "password": PASSWORD, "next": "/me",
                                                  "csrf_token": token})
        assert answer.status_code == 303, answer.text[:300]
        return dict(browser.cookies)


def _setup_dot(url: str, key_file: Path) -> tuple[str, str, dict]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    os.environ.update(DOT_DATABASE_URL=url.replace("postgresql+psycopg://", "postgresql://"),
                      DOT_RSA_KEY_FILE=str(key_file))
    import dot_baseline  # noqa: F401  (configures Django)
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command
    from oauth2_provider.models import Application

    call_command("migrate", verbosity=0)
    user = User.objects.create_user("an", password=PASSWORD, first_name="An", last_name="Nguyễn Văn")
    secret = secrets.token_urlsafe(32)
    Application.objects.create(
        name="Bench RP", client_id=secrets.token_urlsafe(18), client_secret=secret, user=user,
        client_type=Application.CLIENT_CONFIDENTIAL, authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=CALLBACK, algorithm=Application.RS256_ALGORITHM, skip_authorization=True)
    client_id = Application.objects.get(name="Bench RP").client_id
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    from django.db import connections

    connections.close_all()
    return client_id, secret, {"sessionid": store.session_key}


def _serve(command: list[str], port: int, probe: str, env: dict) -> subprocess.Popen:
    process = subprocess.Popen(command + ["--host", "127.0.0.1", "--port", str(port)], env=env,
                               stdin=subprocess.DEVNULL)
    for _ in range(300):
        try:
            httpx.get(f"http://127.0.0.1:{port}{probe}", timeout=2)
            return process
        except httpx.TransportError:
            if process.poll() is not None:
                raise RuntimeError(f"{command} exited") from None
            time.sleep(0.2)
    raise RuntimeError(f"{command} did not start")


def _authorize(http: httpx.Client, provider: Provider) -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    from authlib.oauth2.rfc7636 import create_s256_code_challenge

    answer = http.get(provider.authorize, params={
        "response_type": "code", "client_id": provider.client_id, "redirect_uri": CALLBACK, "scope": SCOPE,
        "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8),
        "code_challenge": create_s256_code_challenge(verifier), "code_challenge_method": "S256"},
        cookies=provider.cookies)
    location = answer.headers.get("location", "")
    if answer.status_code not in (302, 303) or not location.startswith(CALLBACK):
        raise RuntimeError(f"{provider.name} authorize: {answer.status_code} {location} {answer.text[:200]}")
    return parse_qs(urlsplit(location).query)["code"][0], verifier


def _exchange(http: httpx.Client, provider: Provider, code: str, verifier: str) -> dict:
    answer = http.post(provider.token, data={"grant_type": "authorization_code", "code": code,
                                             "redirect_uri": CALLBACK, "code_verifier": verifier},
                       auth=(provider.client_id, provider.secret))
    if answer.status_code != 200 or "id_token" not in answer.json():
        raise RuntimeError(f"{provider.name} token: {answer.status_code} {answer.text[:200]}")
    return answer.json()


def _userinfo(http: httpx.Client, provider: Provider, access_token: str) -> dict:
    answer = http.get(provider.userinfo, headers={"Authorization": f"Bearer {access_token}"})
    if answer.status_code != 200 or "name" not in answer.json():
        raise RuntimeError(f"{provider.name} userinfo: {answer.status_code} {answer.text[:200]}")
    return answer.json()


def _concurrently(clients: int, jobs: list, work, base: str) -> tuple[list[float], float]:
    latencies: list[float] = []
    lock = threading.Lock()
    local = threading.local()

    def timed(job):
        if not hasattr(local, "http"):
            local.http = httpx.Client(base_url=base, timeout=60)
        start = time.perf_counter()
        work(local.http, job)
        elapsed = time.perf_counter() - start
        with lock:
            latencies.append(elapsed)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(timed, jobs))
    return latencies, time.perf_counter() - started


def _full_flows(provider: Provider, flows: int, clients: int) -> dict:
    def flow(http, _):
        code, verifier = _authorize(http, provider)
        tokens = _exchange(http, provider, code, verifier)
        _userinfo(http, provider, tokens["access_token"])

    latencies, seconds = _concurrently(clients, list(range(flows)), flow, provider.base)
    return {"flows_per_s": round(flows / seconds, 1), **summary_ms(latencies)}


def _token_endpoint(provider: Provider, exchanges: int, clients: int, batch: int = 200) -> dict:
    latencies: list[float] = []
    seconds = 0.0
    with httpx.Client(base_url=provider.base, timeout=60) as http:
        done = 0
        while done < exchanges:
            size = min(batch, exchanges - done)
            # Minted just before their exchange: codes live 60 s on both providers.
            codes = [_authorize(http, provider) for _ in range(size)]
            batch_latencies, batch_seconds = _concurrently(
                clients, codes, lambda h, job: _exchange(h, provider, *job), provider.base)
            latencies += batch_latencies
            seconds += batch_seconds
            done += size
    return {"exchanges_per_s": round(exchanges / seconds, 1), **summary_ms(latencies)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True, help="PostgreSQL server (database name = prefix)")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes, both systems")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument("--flows", type=int, default=400, help="full flows per system and round")
    parser.add_argument("--exchanges", type=int, default=600, help="token exchanges per system and round")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds; the best round counts")
    parser.add_argument("--name", default="oidc")
    args = parser.parse_args()

    url = args.database_url
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    prefix = make_url(url).database
    admin_url = make_url(url).set(database="postgres").render_as_string(hide_password=False)
    dancu_url = _recreate(admin_url, f"{prefix}_oidc")
    dot_url = _recreate(admin_url, f"{prefix}_dot")
    work = Path(tempfile.mkdtemp(prefix="bench-oidc-"))
    dancu_client, dancu_secret = _setup_dancu(dancu_url, work)
    dot_client, dot_secret, dot_cookies = _setup_dot(dot_url, work / "dot-rsa.pem")

    env = os.environ.copy()
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), env.get("PYTHONPATH", "")])
    common = ["--workers", str(args.workers), "--log-level", "warning", "--no-access-log"]
    dancu_port, dot_port = _free_port(), _free_port()
    # dancu's provider answers only under its configured issuer, the address the clients below use.
    dancu_env = {**env, "DANCU_OIDC_ISSUER": f"http://localhost:{dancu_port}"}
    servers = [
        _serve([sys.executable, "-m", "uvicorn", "--factory", "dancu.web.app:create_app", *common], dancu_port,
               "/.well-known/openid-configuration", dancu_env),
        _serve([sys.executable, "-m", "uvicorn", "dot_baseline:application", *common], dot_port,
               "/o/.well-known/openid-configuration", env),
    ]
    try:
        dancu_base, dot_base = f"http://localhost:{dancu_port}", f"http://localhost:{dot_port}"
        providers = [
            Provider("dancu", dancu_base, "/oidc/authorize", "/api/oidc/token", "/api/oidc/userinfo", dancu_client,
                     dancu_secret, _dancu_cookies(dancu_base)),
            Provider("django-oauth-toolkit", dot_base, "/o/authorize/", "/o/token/", "/o/userinfo/", dot_client,
                     dot_secret, dot_cookies),
        ]
        for provider in providers:  # warm-up: imports, connection pools, key caches
            _full_flows(provider, 20, args.clients)
        rounds: dict[str, dict[str, list[dict]]] = {p.name: {"flow": [], "token": []} for p in providers}
        for round_number in range(args.rounds):
            for provider in providers if round_number % 2 == 0 else reversed(providers):
                rounds[provider.name]["flow"].append(_full_flows(provider, args.flows, args.clients))
                rounds[provider.name]["token"].append(_token_endpoint(provider, args.exchanges, args.clients))
                print(provider.name, rounds[provider.name]["flow"][-1], rounds[provider.name]["token"][-1],
                      flush=True)
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=20)

    best = {name: {"flow": max(r["flow"], key=lambda x: x["flows_per_s"]),
                   "token": max(r["token"], key=lambda x: x["exchanges_per_s"])} for name, r in rounds.items()}
    dancu, dot = best["dancu"], best["django-oauth-toolkit"]
    result = {
        "workers": args.workers, "clients": args.clients, "flows": args.flows, "exchanges": args.exchanges,
        "rounds": args.rounds, "best": best, "all_rounds": rounds,
        "flow_ratio": round(dancu["flow"]["flows_per_s"] / dot["flow"]["flows_per_s"], 2),
        "token_ratio": round(dancu["token"]["exchanges_per_s"] / dot["token"]["exchanges_per_s"], 2),
    }
    path = write_result(args.name, result)
    print(f"flows/s dancu {dancu['flow']['flows_per_s']} vs DOT {dot['flow']['flows_per_s']} "
          f"(x{result['flow_ratio']}); token exchanges/s dancu {dancu['token']['exchanges_per_s']} vs DOT "
          f"{dot['token']['exchanges_per_s']} (x{result['token_ratio']}) -> {path}")


if __name__ == "__main__":
    main()
