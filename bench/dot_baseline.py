"""The baseline of bench_oidc.py: django-oauth-toolkit as an OpenID Connect provider, settings in code.

Configured like dancu's provider: OIDC on, PKCE required, RS256 ID tokens,
15-minute access tokens, rotated refresh tokens with reuse protection, a
confidential client whose secret is hashed once (dancu stores SHA-256 of a
256-bit random secret; Django's default PBKDF2 with 1,000,000 rounds would
measure the hasher, not the provider), pooled database connections (psycopg
pool, from the bench extra), a userinfo endpoint returning the citizen's name
and birth date.

    DOT_DATABASE_URL=postgresql://dancu:dancu@localhost/dancu_bench_dot DOT_RSA_KEY_FILE=key.pem \\
        uvicorn --app-dir bench dot_baseline:application
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import django
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher


class SingleRoundPBKDF2(PBKDF2PasswordHasher):
    algorithm = "pbkdf2_sha256_single"
    iterations = 1


def _database() -> dict:
    url = urlsplit(os.environ.get("DOT_DATABASE_URL", "postgresql://dancu:dancu@localhost/dancu_bench_dot"))
    return {"ENGINE": "django.db.backends.postgresql", "NAME": url.path.lstrip("/"), "USER": url.username,
            "PASSWORD": url.password, "HOST": url.hostname, "PORT": url.port or 5432,
            # Django's own psycopg pool: persistent connections (CONN_MAX_AGE) leak under ASGI, where
            # every request may run in another thread; dancu's SQLAlchemy engine pools likewise.
            "CONN_MAX_AGE": 0, "OPTIONS": {"pool": {"min_size": 2, "max_size": 10}}}


if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY=os.environ.get("DOT_SECRET_KEY", "bench-only-not-a-secret"),
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
                        "oauth2_provider"],
        MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware",
                    "django.contrib.auth.middleware.AuthenticationMiddleware"],
        DATABASES={"default": _database()},
        PASSWORD_HASHERS=[f"{__name__}.SingleRoundPBKDF2", "django.contrib.auth.hashers.PBKDF2PasswordHasher"],
        USE_TZ=True,
        LOGIN_URL="/login/",
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        OAUTH2_PROVIDER={
            "OIDC_ENABLED": True,
            "OIDC_RSA_PRIVATE_KEY": Path(os.environ["DOT_RSA_KEY_FILE"]).read_text()
            if os.environ.get("DOT_RSA_KEY_FILE") else "",
            "PKCE_REQUIRED": True,
            "SCOPES": {"openid": "OpenID Connect", "profile": "Name and birth date"},
            "DEFAULT_SCOPES": ["openid"],
            "ACCESS_TOKEN_EXPIRE_SECONDS": 900,
            "ID_TOKEN_EXPIRE_SECONDS": 900,
            "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
            "ROTATE_REFRESH_TOKEN": True,
            "REFRESH_TOKEN_REUSE_PROTECTION": True,
            "CLIENT_SECRET_HASHER": "pbkdf2_sha256_single",
            "ALLOW_LOCALHOST_LOOPBACK": True,
            "OAUTH2_VALIDATOR_CLASS": f"{__name__}.Validator",
        },
    )
    django.setup()

from django.core.asgi import get_asgi_application
from django.urls import include, path
from oauth2_provider.oauth2_validators import OAuth2Validator


class Validator(OAuth2Validator):
    oidc_claim_scope = {**OAuth2Validator.oidc_claim_scope, "birthdate": "profile"}  # noqa: RUF012 (DOT API)

    def get_additional_claims(self, request):
        user = request.user
        return {"name": f"{user.last_name} {user.first_name}".strip(), "family_name": user.last_name,
                "given_name": user.first_name, "birthdate": "1990-05-17"}


urlpatterns = [path("o/", include("oauth2_provider.urls", namespace="oauth2_provider"))]

application = get_asgi_application()
