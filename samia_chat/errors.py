"""Errors services raise. Each carries an HTTP status and a stable machine code.

The API turns them into `{"error": {"code", "message"}}`; the socket into an error frame.
Services never build HTTP responses themselves.
"""

# PostgreSQL cannot store a NUL character in text: every entrance refuses it with this.
NUL_REFUSED = "Text may not contain NUL characters."


class ServiceError(Exception):
    status = 400
    code = "BAD_REQUEST"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class Invalid(ServiceError):
    status = 400
    code = "INVALID"


class Unauthenticated(ServiceError):
    status = 401
    code = "UNAUTHENTICATED"


class Forbidden(ServiceError):
    status = 403
    code = "FORBIDDEN"


class NotFound(ServiceError):
    status = 404
    code = "NOT_FOUND"


class Conflict(ServiceError):
    status = 409
    code = "CONFLICT"


class TooLarge(ServiceError):
    status = 413
    code = "FILE_TOO_LARGE"


class UnsupportedType(ServiceError):
    status = 415
    code = "UNSUPPORTED_TYPE"


class RateLimited(ServiceError):
    status = 429
    code = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = max(1, int(retry_after_seconds))
