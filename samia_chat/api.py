"""The JSON API: one NinjaAPI with JWT bearer and browser-session auth, errors in one shape,
and the token endpoints. The chat router is mounted by urls.py."""

import json
import logging

from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.db import InterfaceError as DatabaseInterfaceError
from django.db import OperationalError as DatabaseOperationalError
from django.http import Http404, HttpRequest, JsonResponse
from django.http.multipartparser import MultiPartParserError
from ninja import NinjaAPI, Schema, Status
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser
from ninja.security import APIKeyCookie, HttpBearer
from redis.exceptions import RedisError

from samia_chat import tokens
from samia_chat.accounts import login_check
from samia_chat.audit import audit_event
from samia_chat.errors import NUL_REFUSED, Invalid, RateLimited, ServiceError
from samia_chat.models import AccessEvent

logger = logging.getLogger(__name__)


def _nul_refuse(value) -> None:
    """PostgreSQL cannot store a NUL character in text: refuse it at the door (400), in any
    string of a body, a query or a form, rather than fail at the database (500)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise Invalid(NUL_REFUSED, code="INVALID_CHARACTERS")
    elif isinstance(value, dict):
        for key, item in value.items():
            _nul_refuse(key)
            _nul_refuse(item)
    elif isinstance(value, list):
        for item in value:
            _nul_refuse(item)


class SamiaParser(Parser):
    def parse_body(self, request: HttpRequest):
        data = json.loads(request.body)
        _nul_refuse(data)
        return data

    def parse_querydict(self, data, list_fields, request: HttpRequest):
        parsed = super().parse_querydict(data, list_fields, request)
        _nul_refuse(parsed)
        return parsed


class BearerAuth(HttpBearer):
    """`Authorization: Bearer <access JWT>` for apps, the booking platform and scripts."""

    def authenticate(self, request: HttpRequest, token: str):
        user = tokens.user_from_access_token(token)
        request.user = user
        return user


class BrowserSessionAuth(APIKeyCookie):
    """The Django session cookie, with CSRF enforced, for the web UI."""

    param_name = settings.SESSION_COOKIE_NAME

    def _get_key(self, request: HttpRequest):
        if self.param_name not in request.COOKIES:
            return None  # no cookie: not a browser call, so no CSRF error either
        return super()._get_key(request)

    def authenticate(self, request: HttpRequest, key):
        user = getattr(request, "user", None)
        return user if user is not None and user.is_authenticated else None


api = NinjaAPI(
    title="SAMIA Chat API",
    version="1",
    description="Real-time chat for SAMIA Tarot. Errors are "
    '`{"error": {"code": "SOME_CODE", "message": "human text"}}`.',
    auth=[BearerAuth(), BrowserSessionAuth()],
    parser=SamiaParser(),
    urls_namespace="api",
    openapi_url="/openapi.json",
    docs_url="/docs",
)


def error_response(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


@api.exception_handler(ServiceError)
def _service_error(request: HttpRequest, exc: ServiceError) -> JsonResponse:
    response = error_response(exc.status, exc.code, exc.message)
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.retry_after_seconds)
    return response


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> JsonResponse:
    first = exc.errors[0] if exc.errors else {}
    if first.get("msg") == "Cannot parse request body":
        return error_response(400, "BAD_JSON", "The request body is not valid JSON.")
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "payload"))
    message = f"{where}: {first.get('msg', 'invalid')}" if where else first.get("msg", "invalid")
    return error_response(400, "INVALID", message)


@api.exception_handler(AuthenticationError)
def _auth_error(request: HttpRequest, exc: AuthenticationError) -> JsonResponse:
    return error_response(401, "UNAUTHENTICATED", "Sign in or send a valid bearer token.")


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> JsonResponse:
    # django-ninja reports an unparsable body as HttpError(400), not a ValidationError.
    if exc.status_code == 400 and NUL_REFUSED in exc.message:
        return error_response(400, "INVALID_CHARACTERS", NUL_REFUSED)
    if exc.status_code == 400 and exc.message.startswith("Cannot parse request body"):
        return error_response(400, "BAD_JSON", "The request body is not valid JSON.")
    code = {403: "CSRF_FAILED" if "CSRF" in exc.message else "FORBIDDEN", 404: "NOT_FOUND"}
    return error_response(exc.status_code, code.get(exc.status_code, "ERROR"), exc.message)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> JsonResponse:
    return error_response(404, "NOT_FOUND", "Not found.")


@api.exception_handler(RedisError)
@api.exception_handler(DatabaseOperationalError)
@api.exception_handler(DatabaseInterfaceError)
def _dependency_down(request: HttpRequest, exc: Exception) -> JsonResponse:
    # The database or Redis is unreachable: nothing was committed, so the client may retry
    # the same request (same client_msg_id) and will not get a duplicate.
    logger.warning("dependency unavailable: %s: %s", type(exc).__name__, exc)
    response = error_response(503, "UNAVAILABLE", "Temporarily unavailable. Please retry.")
    response["Retry-After"] = "1"
    return response


@api.exception_handler(MultiPartParserError)
def _bad_upload(request: HttpRequest, exc: MultiPartParserError) -> JsonResponse:
    # Django refuses a part whose headers pass 1 KiB (a file name of ~1,000 characters).
    return error_response(
        400, "INVALID_UPLOAD", "The upload could not be read: is its name too long?"
    )


@api.exception_handler(OverflowError)
def _out_of_range(request: HttpRequest, exc: OverflowError) -> JsonResponse:
    # An id past the 64-bit range: the SQLite driver raises where PostgreSQL finds nothing.
    return error_response(400, "INVALID", "A number is out of range.")


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> JsonResponse:
    logger.exception("unhandled API error")
    return error_response(500, "INTERNAL", "Something went wrong on our side.")


class ErrorDetail(Schema):
    code: str
    message: str


class ErrorOut(Schema):
    error: ErrorDetail


class TokenIn(Schema):
    username: str
    password: str


class RefreshIn(Schema):
    refresh: str


class TokenPairOut(Schema):
    access: str
    refresh: str


class MeOut(Schema):
    id: int
    username: str
    display_name: str
    role: str


@api.post(
    "/auth/token",
    auth=None,
    response={200: TokenPairOut, 400: ErrorOut, 401: ErrorOut, 429: ErrorOut},
)
def token_obtain(request: HttpRequest, payload: TokenIn):
    user = login_check(request=request, username=payload.username, password=payload.password)
    audit_event(actor=user, action=AccessEvent.Action.TOKEN_ISSUED, target=user, request=request)
    return tokens.token_pair_issue(user=user)


@api.post("/auth/refresh", auth=None, response={200: TokenPairOut, 400: ErrorOut, 401: ErrorOut})
def token_refresh(request: HttpRequest, payload: RefreshIn):
    return tokens.token_pair_refresh(refresh=payload.refresh)


@api.post("/auth/logout", auth=None, response={204: None, 400: ErrorOut})
def token_logout(request: HttpRequest, payload: RefreshIn):
    user = tokens.token_revoke(refresh=payload.refresh)
    if user is not None:
        # An app signing out is a sign-out like the browser's (readers go off call).
        user_logged_out.send(sender=type(user), request=request, user=user)
    return Status(204, None)


@api.post("/auth/logout-all", response={204: None, 401: ErrorOut, 403: ErrorOut})
def token_logout_all(request: HttpRequest):
    """Sign out everywhere: every browser session, access token and refresh token of the
    caller stops working (this one included)."""
    user = request.auth
    tokens.sign_out_everywhere(user=user)
    user_logged_out.send(sender=type(user), request=request, user=user)
    return Status(204, None)


@api.get("/me", response={200: MeOut, 401: ErrorOut})
def me(request: HttpRequest):
    user = request.auth
    return {
        "id": user.pk,
        "username": user.username,
        "display_name": user.public_name,
        "role": user.role,
    }
