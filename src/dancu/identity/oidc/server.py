"""The OAuth 2.0 / OpenID Connect protocol, by authlib's grants and endpoints.

authlib ships server integrations for Flask and Django only; this module is
the thin Starlette adapter: ``read_request`` turns a Starlette request (whose
form must be awaited) into authlib's synchronous ``OAuth2Request``, and
``ProviderServer.handle_response`` turns authlib's (status, body, headers) back
into a Starlette response. One server is built per request around that
request's database session; building it only fills a few lists.
"""

from __future__ import annotations

import datetime as dt
import secrets
import string
import time
from collections import defaultdict
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from authlib.oauth2 import AuthorizationServer, OAuth2Error, OAuth2Request, ResourceProtector
from authlib.oauth2.rfc6749 import ClientMixin, InvalidRequestError, OAuth2Payload, grants
from authlib.oauth2.rfc6749.models import AuthorizationCodeMixin, TokenMixin
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oidc.core import UserInfo, UserInfoEndpoint
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.rpinitiated import EndSessionEndpoint
from sqlalchemy.orm import Session
from starlette.datastructures import ImmutableMultiDict
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from dancu.config import get_settings
from dancu.identity.eid import services as eid
from dancu.identity.oidc import services
from dancu.identity.oidc.models import AuthorizationCode, RelyingParty, Token

SECRET_METHODS = ("client_secret_basic", "client_secret_post")


class WebRequest(OAuth2Request):
    """An authlib request over a Starlette request whose query and form are already read."""

    def __init__(self, request: Request, form: ImmutableMultiDict):
        super().__init__(method=request.method, uri=str(request.url), headers=request.headers)
        self._args = request.query_params
        self._form = form
        self.payload = _Payload(request.query_params, form)
        # Set by the authorization page before a code is issued: what the citizen agreed to share.
        self.shared_claims: list[str] = []

    @property
    def args(self):
        return self._args

    @property
    def form(self):
        return self._form


class _Payload(OAuth2Payload):
    def __init__(self, query: ImmutableMultiDict, form: ImmutableMultiDict):
        self._data = {**dict(query), **dict(form)}
        self._datalist = defaultdict(list)
        for key, value in [*query.multi_items(), *form.multi_items()]:
            self._datalist[key].append(value)

    @property
    def data(self):
        return self._data

    @property
    def datalist(self):
        return self._datalist


class MalformedRequest(ValueError):
    """A parameter holds characters no OAuth parameter may hold (RFC 6749 appendix A: printable ASCII)."""

    code = "oidc.malformed_request"


def _printable_ascii(text: str) -> bool:
    return all(" " <= ch <= "~" for ch in text)


# RFC 3986 2: the characters a URI may hold (unreserved, reserved and '%').
_URI_CHARACTERS = frozenset(string.ascii_letters + string.digits + "-._~:/?#[]@!$&'()*+,;=%")


def well_formed_uri(value: str) -> bool:
    """An absolute URI with a host, only of RFC 3986 characters, that the standard parser accepts."""
    if not value or not set(value) <= _URI_CHARACTERS:
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        return False
    return bool(parts.scheme and parts.hostname)


async def read_request(request: Request, *, form_parameters: bool = True) -> WebRequest:
    """The protocol request; ``form_parameters=False`` when the form is a page's, not the client's."""
    form = await request.form() if request.method == "POST" and form_parameters else ImmutableMultiDict()
    fields = ImmutableMultiDict([(k, v) for k, v in form.multi_items() if isinstance(v, str)])
    for key, value in [*request.query_params.multi_items(), *fields.multi_items()]:
        # authlib echoes some values in error descriptions, which must be printable ASCII.
        if not (_printable_ascii(key) and _printable_ascii(value)):
            raise MalformedRequest(f"parameter {key.encode('ascii', 'replace').decode()!r} holds characters "
                                   "outside printable ASCII; percent-encode it")
    return WebRequest(request, fields)


def malformed_response(error: MalformedRequest) -> JSONResponse:
    return JSONResponse({"error": "invalid_request", "error_description": str(error)}, status_code=400,
                        headers={"Cache-Control": "no-store"})


class Client(ClientMixin):
    def __init__(self, row: RelyingParty):
        self.row = row
        self.client_id = row.client_id

    @property
    def client_metadata(self) -> dict:
        return {"post_logout_redirect_uris": list(self.row.post_logout_redirect_uris)}

    def get_client_id(self):
        return self.row.client_id

    def get_default_redirect_uri(self):
        # OpenID Connect requires redirect_uri in every request: no default.
        return None

    def get_allowed_scope(self, scope):
        return " ".join(name for name in (scope or "").split() if name in services.SUPPORTED_SCOPES)

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.row.redirect_uris

    def check_client_secret(self, client_secret):
        return services.client_secret_matches(self.row, client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
        if self.row.public:
            # A public client cannot authenticate, so it may not ask about tokens.
            return method == "none" and endpoint != "introspection"
        return method in SECRET_METHODS

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type in ("authorization_code", "refresh_token")


@dataclass(frozen=True)
class Grantee:
    """The citizen a code or token speaks for, as seen by one relying party."""

    account_id: int
    subject: str
    claims: tuple[str, ...]
    level: int
    amr: tuple[str, ...]
    auth_time: dt.datetime
    family: str
    client_name: str


class IssuedCode(AuthorizationCodeMixin):
    def __init__(self, row: AuthorizationCode):
        self.row = row

    def get_redirect_uri(self):
        return self.row.redirect_uri

    def get_scope(self):
        return self.row.scope

    def get_nonce(self):
        return self.row.nonce

    def get_auth_time(self):
        return int(services.aware(self.row.auth_time).timestamp())

    def get_acr(self):
        return services.ACR_VALUES[self.row.level]

    def get_amr(self):
        return list(self.row.amr)


class IssuedToken(TokenMixin):
    def __init__(self, row: Token, kind: str = "access_token"):
        self.row = row
        self.kind = kind

    @property
    def scope(self):
        return self.row.scope

    def check_client(self, client):
        return self.row.client_id == client.get_client_id()

    def get_scope(self):
        return self.row.scope

    def get_expires_in(self):
        return int((services.aware(self.row.access_expires_at) - services.aware(self.row.issued_at)).total_seconds())

    def is_expired(self):
        expires = self.row.refresh_expires_at if self.kind == "refresh_token" else self.row.access_expires_at
        return expires is None or services.aware(expires) <= services.now()

    def is_revoked(self):
        return self.row.revoked_at is not None or (self.kind == "refresh_token" and self.row.refreshed_at is not None)

    def get_user(self):
        return _grantee_of_token(self.row, self._client)

    def get_client(self):
        return self._client

    def bind(self, client: Client) -> IssuedToken:
        self._client = client
        return self


def _grantee_of_token(row: Token, client: Client) -> Grantee:
    return Grantee(account_id=row.account_id,
                   subject=services.pairwise_subject(client.row.sector_identifier, row.account_id),
                   claims=tuple(row.claims), level=row.level, amr=tuple(row.amr),
                   auth_time=services.aware(row.auth_time), family=row.family, client_name=client.row.name)


class S256Required(CodeChallenge):
    """PKCE with S256 on every authorization request, public or confidential client."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ("S256",)

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send code_challenge with code_challenge_method=S256.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256.")
        super().validate_code_challenge(grant, redirect_uri)

    def get_authorization_code_challenge(self, authorization_code):
        return authorization_code.row.code_challenge

    def get_authorization_code_challenge_method(self, authorization_code):
        return authorization_code.row.code_challenge_method


class CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = (*SECRET_METHODS, "none")

    @staticmethod
    def validate_authorization_redirect_uri(request, client):
        # authlib's own check echoes the URI in the error description, and its error type
        # refuses a description holding '"' or '\\' (RFC 6749 5.2): such a URI was a 500.
        redirect_uri = request.payload.redirect_uri
        if not redirect_uri:
            raise InvalidRequestError("Missing 'redirect_uri' in request.", state=request.payload.state)
        if not well_formed_uri(redirect_uri):
            raise InvalidRequestError("redirect_uri is not a well-formed absolute URI (RFC 3986).")
        if not client.check_redirect_uri(redirect_uri):
            raise InvalidRequestError("redirect_uri is not registered for this client (compared exactly).")
        return redirect_uri

    @property
    def db(self) -> Session:
        return self.server.session

    def save_authorization_code(self, code, request):
        principal = request.user
        data = request.payload.data
        self.db.add(AuthorizationCode(
            code_sha256=services.digest(code), client_id=request.client.get_client_id(),
            account_id=principal.account_id, redirect_uri=data["redirect_uri"], scope=request.scope or "",
            claims=list(request.shared_claims), nonce=data.get("nonce"),
            code_challenge=data["code_challenge"], code_challenge_method=data["code_challenge_method"],
            level=principal.level, amr=list(principal.amr), auth_time=principal.auth_time,
            expires_at=services.now() + services.CODE_LIFETIME,
        ))
        self.db.flush()

    def query_authorization_code(self, code, client):
        row = services.find_code(self.db, code, client.get_client_id())
        if row is None:
            return None
        if row.used_at is not None:
            # RFC 6749 4.1.2: a code used twice was stolen; what the first use obtained is revoked.
            services.revoke_family(self.db, services.code_family(row))
            return None
        if services.aware(row.expires_at) <= services.now():
            return None
        return IssuedCode(row)

    def delete_authorization_code(self, authorization_code):
        authorization_code.row.used_at = services.now()

    def authenticate_user(self, authorization_code):
        row = authorization_code.row
        client = self.request.client
        return Grantee(account_id=row.account_id,
                       subject=services.pairwise_subject(client.row.sector_identifier, row.account_id),
                       claims=tuple(row.claims), level=row.level, amr=tuple(row.amr),
                       auth_time=services.aware(row.auth_time), family=services.code_family(row),
                       client_name=client.row.name)


class RefreshGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = (*SECRET_METHODS, "none")
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token):
        db = self.server.session
        row = services.find_token(db, refresh=refresh_token, lock=True)
        if row is None:
            return None
        if row.refreshed_at is not None:
            # Reuse of a rotated refresh token: one of the two holders is a thief, so both lose the family.
            services.revoke_family(db, row.family)
            return None
        if row.revoked_at is not None or row.refresh_expires_at is None \
                or services.aware(row.refresh_expires_at) <= services.now():
            return None
        return IssuedToken(row, "refresh_token")

    def authenticate_user(self, refresh_token):
        return _grantee_of_token(refresh_token.row, self.request.client)

    def revoke_old_credential(self, refresh_token):
        refresh_token.row.refreshed_at = services.now()


class DancuOpenIDCode(OpenIDCode):
    def __init__(self, server: ProviderServer):
        super().__init__(require_nonce=False)
        self.server = server

    def exists_nonce(self, nonce, request):
        return services.nonce_used(self.server.session, request.payload.client_id, nonce)

    def resolve_client_private_key(self, client):
        return self.server.signing_key()[1]

    def get_client_algorithm(self, client):
        return services.SIGNING_ALG

    def get_encode_header(self, client):
        return {"alg": services.SIGNING_ALG, "kid": self.server.signing_key()[0], "typ": "JWT"}

    def get_client_claims(self, client):
        return {"iss": self.server.issuer, "aud": client.get_client_id(),
                "exp": int(time.time() + services.ID_TOKEN_LIFETIME.total_seconds())}

    def generate_user_info(self, user, scope):
        # The ID token proves who logged in; the claims themselves come from userinfo, read with a purpose.
        return UserInfo(sub=user.subject)


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = (*SECRET_METHODS, "none")

    def query_token(self, token_string, token_type_hint):
        return self.server.find_token(token_string, token_type_hint)

    def revoke_token(self, token, request):
        if token.kind == "refresh_token":
            services.revoke_family(self.server.session, token.row.family)
        else:
            token.row.revoked_at = services.now()


class Introspection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = SECRET_METHODS

    def query_token(self, token_string, token_type_hint):
        return self.server.find_token(token_string, token_type_hint)

    def check_permission(self, token, client, request):
        return token.check_client(client)

    def introspect_token(self, token):
        row = token.row
        client = self.server.query_client(row.client_id)
        expires = row.refresh_expires_at if token.kind == "refresh_token" else row.access_expires_at
        return {
            "active": True, "client_id": row.client_id, "token_type": "Bearer", "scope": row.scope,
            "sub": services.pairwise_subject(client.row.sector_identifier, row.account_id) if client else None,
            "iss": self.server.issuer, "aud": row.client_id, "acr": services.ACR_VALUES[row.level],
            "iat": int(services.aware(row.issued_at).timestamp()),
            "exp": int(services.aware(expires).timestamp()) if expires else None,
        }


class EndSession(EndSessionEndpoint):
    def get_server_jwks(self):
        return services.public_jwks(self.server.session)

    def get_algorithms(self):
        return [services.SIGNING_ALG]

    def end_session(self, end_session_request):
        """Nothing to do here: the citizen's login lives in the e-ID web session, which
        the page ends by sending the browser through /eid/logout."""


class AccessTokenValidator(BearerTokenValidator):
    def __init__(self, server: ProviderServer):
        super().__init__()
        self.server = server

    def authenticate_token(self, token_string):
        return self.server.find_token(token_string, "access_token")


class RequestProtector(ResourceProtector):
    """authlib's userinfo endpoint asks its protector for the token without the request: bind it."""

    def __init__(self, server: ProviderServer, request: WebRequest):
        super().__init__()
        self.request = request
        self.register_token_validator(AccessTokenValidator(server))

    def acquire_token(self, scopes):
        return self.validate_request([scopes], self.request)


class Userinfo(UserInfoEndpoint):
    def __init__(self, server: ProviderServer, request: WebRequest):
        super().__init__(server, RequestProtector(server, request))

    def get_issuer(self):
        return self.server.issuer

    def generate_user_info(self, user, scope):
        return UserInfo(sub=user.subject, **self.server.read_claims(user))

    def resolve_private_key(self):
        return self.server.signing_key()[1]


class ProviderServer(AuthorizationServer):
    def __init__(self, session: Session, issuer: str, claims_reader):
        super().__init__(scopes_supported=list(services.SUPPORTED_SCOPES))
        self.session = session
        self.issuer = issuer
        self._claims_reader = claims_reader
        self._signing_key = None
        self.register_token_generator("default", self._generate_token)
        self.register_grant(CodeGrant, [DancuOpenIDCode(self), S256Required(required=True)])
        self.register_grant(RefreshGrant)
        self.register_endpoint(Revocation)
        self.register_endpoint(Introspection)
        self.register_endpoint(EndSession)

    def signing_key(self):
        if self._signing_key is None:
            self._signing_key = services.signing_key(self.session)
        return self._signing_key

    def query_client(self, client_id):
        if not client_id or not isinstance(client_id, str) or len(client_id) > 64:
            return None
        row = services.get_client(self.session, client_id)
        return Client(row) if row is not None and row.active else None

    def find_token(self, token_string: str, hint: str | None) -> IssuedToken | None:
        row, kind = None, "access_token"
        if hint != "refresh_token":
            row = services.find_token(self.session, access=token_string)
        if row is None and hint != "access_token":
            row, kind = services.find_token(self.session, refresh=token_string), "refresh_token"
        if row is None:
            return None
        client = self.query_client(row.client_id)
        if client is None:
            return None
        return IssuedToken(row, kind).bind(client)

    def read_claims(self, user: Grantee) -> dict:
        if not user.claims:
            return {}
        return self._claims_reader(self.session, user.account_id, user.claims,
                                   f"OpenID Connect userinfo for relying party {user.client_name}")

    def _generate_token(self, grant_type, client, user=None, scope=None, expires_in=None,
                        include_refresh_token=True):
        token = {
            "token_type": "Bearer",
            "access_token": secrets.token_urlsafe(32),
            "expires_in": int(services.ACCESS_TOKEN_LIFETIME.total_seconds()),
            "scope": scope or "",
        }
        if include_refresh_token:
            token["refresh_token"] = secrets.token_urlsafe(32)
        return token

    def save_token(self, token, request):
        user: Grantee = request.user
        issued = services.now()
        refresh = token.get("refresh_token")
        self.session.add(Token(
            family=user.family, access_sha256=services.digest(token["access_token"]),
            refresh_sha256=services.digest(refresh) if refresh else None,
            client_id=request.client.get_client_id(), account_id=user.account_id, scope=token.get("scope", ""),
            claims=list(user.claims), level=user.level, amr=list(user.amr), auth_time=user.auth_time,
            issued_at=issued, access_expires_at=issued + services.ACCESS_TOKEN_LIFETIME,
            refresh_expires_at=issued + services.REFRESH_TOKEN_LIFETIME if refresh else None,
        ))
        self.session.flush()

    def create_oauth2_request(self, request):
        if isinstance(request, OAuth2Request):
            return request
        raise TypeError("pass a WebRequest made by read_request()")

    def create_json_request(self, request):
        raise TypeError("dancu's provider takes no JSON requests")

    def handle_response(self, status, body, headers):
        headers = dict(headers)
        if status in (301, 302, 303) and "Location" in headers:
            return RedirectResponse(headers["Location"], status_code=302)
        content_type = headers.pop("Content-Type", "application/json")
        if content_type == "application/json":
            response = JSONResponse(body, status_code=status, headers=headers)
        else:
            response = Response(body, status_code=status, headers=headers, media_type=content_type)
        if "Cache-Control" not in headers:
            response.headers["Cache-Control"] = "no-store"
        return response

    def send_signal(self, name, *args, **kwargs):
        """authlib's signals serve framework integrations; dancu listens to none."""

    def userinfo_response(self, request: WebRequest) -> Response:
        endpoint = Userinfo(self, request)
        try:
            return self.handle_response(*endpoint(request))
        except OAuth2Error as error:
            return self.handle_error_response(request, error)


def login_redirect(next_path: str, *, acr: int | None = None, max_age: int | None = None,
                   prompt_login: bool = False) -> str:
    """Where to send a citizen who must (re)authenticate before the relying party may get an answer."""
    target = f"/eid/login?next={quote(next_path, safe='')}"
    if acr:
        target += f"&acr={acr}"
    if max_age is not None:
        target += f"&max_age={max_age}"
    if prompt_login:
        target += "&prompt=login"
    return target


def valid_issuer(value: str) -> bool:
    """An issuer is an http(s) URL with a host and nothing after it (Discovery 2 forbids a query or a
    fragment; dancu's endpoints sit at the root of its host, so no path either)."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and parts.username is None \
        and not (parts.path or parts.query or parts.fragment) and not value.endswith(("?", "#"))


def _authority(scheme: str, netloc: str) -> tuple[str, int] | None:
    try:
        parts = urlsplit(f"//{netloc}")
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or parts.username is not None or parts.password is not None:
        return None
    return parts.hostname.lower(), port or (443 if scheme == "https" else 80)


def issuer_for(request: Request) -> str:
    """The issuer, from configuration only, for a request that reached the provider under its host.

    The Host header is the client's to choose: an issuer taken from it would let
    anyone publish a discovery document (cached by relying parties) that points
    every endpoint at their own server. A TLS proxy in front may change the
    scheme, so only host and port are compared, the port defaulting by the issuer's scheme.
    """
    issuer = get_settings().oidc_issuer
    if not issuer:
        raise HTTPException(503, "the OpenID Connect provider is not configured: set DANCU_OIDC_ISSUER")
    scheme = urlsplit(issuer).scheme
    if _authority(scheme, request.headers.get("host", "")) != _authority(scheme, urlsplit(issuer).netloc):
        # 421 Misdirected Request (RFC 9110 15.5.20): not the authority this server answers for.
        raise HTTPException(421, f"this provider answers only at {issuer}")
    return issuer


def provider(session: Session, issuer: str) -> ProviderServer:
    return ProviderServer(session, issuer, eid.claims_for)
