"""SAMIA Chat settings: one module, driven by environment variables.

With no variables set this is the *embedded default*: SQLite, an in-memory channel layer,
a file-based cache (django-ratelimit refuses per-process caches), local files, DEBUG on,
bound to 127.0.0.1. Production sets DATABASE_URL, REDIS_URL and SECRET_KEY and turns DEBUG
off. Every variable is listed in README.md.
"""

import base64
import os
import re
import secrets
import warnings
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("SAMIA_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


DEBUG = env_bool("DEBUG", default=True)


def _secret_key() -> str:
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    # Embedded default: a random key kept outside the repository, stable across restarts
    # so that logins survive a restart of the development server.
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "auditlog",
    "ninja",
    "samia_chat",
    "chat",
    "audio",
    "approvals",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "samia_chat.request_limits.RequestRateLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
]

ROOT_URLCONF = "samia_chat.urls"
ASGI_APPLICATION = "samia_chat.asgi.application"
AUTH_USER_MODEL = "samia_chat.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "chat:inbox"
LOGOUT_REDIRECT_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Under ASGI every request runs in a thread of its own, so persistent connections
        # pile up (one per thread) until PostgreSQL refuses clients. A process-wide pool
        # (psycopg_pool, built into Django 5.1+) reuses a bounded set instead.
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env_int("DB_POOL_MIN", 2),
            "max_size": env_int("DB_POOL_MAX", 10),
            "timeout": 10,
        }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH") or VAR_DIR / "db.sqlite3",
            "OPTIONS": {
                # Daphne serves requests from threads: take the write lock at BEGIN so
                # concurrent writers queue instead of failing with "database is locked".
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            # A file, not :memory:, so a Daphne process started by the browser tests
            # can open the same test database.
            "TEST": {"NAME": str(VAR_DIR / "test-db.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer and cache -----------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    # "pubsub" (default): Redis PUBLISH/SUBSCRIBE. Measured here it delivers near saturation
    # in milliseconds where "core" (per-channel queues with capacity and expiry) lags by
    # seconds, costs less CPU, and keeps sockets open across a Redis restart. It keeps
    # nothing while a consumer is away; catch-up covers that (docs/performance.md).
    if os.environ.get("CHANNEL_LAYER", "pubsub") == "pubsub":
        CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                "CONFIG": {"hosts": [REDIS_URL]},
            }
        }
    else:
        CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {
                    "hosts": [REDIS_URL],
                    "capacity": env_int("CHANNEL_CAPACITY", 1000),
                    "expiry": 60,
                },
            }
        }
    CACHES = {
        "default": {
            # Django's backend with one pool and client per process (see redis_pool.py).
            "BACKEND": "samia_chat.redis_pool.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "samia",
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Files ----------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = DEBUG
MEDIA_ROOT = VAR_DIR / "media"
# The one private store for chat attachments: never served directly, only through the
# permission-checked download view, and every object in it is encrypted (filecrypt.py).
FILES_S3_BUCKET = os.environ.get("FILES_S3_BUCKET", "")
if FILES_S3_BUCKET:
    CHAT_FILES_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": FILES_S3_BUCKET,
            "endpoint_url": os.environ.get("FILES_S3_ENDPOINT_URL") or None,
            "region_name": os.environ.get("FILES_S3_REGION") or None,
            # Credentials come from the standard AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY
            # variables or the instance role, never from this file.
            # No ACL on upload: the bucket itself must be private (Block Public Access);
            # buckets with ACLs disabled, the AWS default, refuse ACL'd uploads.
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
            # A download spools the object to a temporary file past 1 MiB instead of
            # holding it in memory.
            "max_memory_size": 1024 * 1024,
        },
    }
else:
    CHAT_FILES_STORAGE = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {
            "location": os.environ.get("FILES_DIR") or str(VAR_DIR / "chat-files"),
            "base_url": None,
            "file_permissions_mode": 0o600,
            "directory_permissions_mode": 0o700,
        },
    }
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "chat-files": CHAT_FILES_STORAGE,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Uploads always land in a temporary file, never in memory: the audio and image code reads
# them from disk, and memory stays bounded whatever arrives.
FILE_UPLOAD_HANDLERS = ["samia_chat.uploads.LimitedTemporaryFileUploadHandler"]
FILE_UPLOAD_MAX_BYTES = 10 * 1024 * 1024


def _file_master_keys() -> dict[str, bytes]:
    """`FILE_MASTER_KEYS="id1:<base64 32 bytes>,id2:<...>"`; the last one listed wraps new
    files, the others stay to read what they wrapped until `rotate_file_keys` has run."""
    raw = os.environ.get("FILE_MASTER_KEYS", "")
    if not raw:
        if not DEBUG:
            raise ImproperlyConfigured("FILE_MASTER_KEYS must be set when DEBUG is off.")
        key_file = VAR_DIR / "file_master_key"
        if not key_file.exists():
            key_file.write_text(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
            key_file.chmod(0o600)
            warnings.warn(
                f"FILE_MASTER_KEYS is not set: files are encrypted with a development key "
                f"generated in {key_file}.",
                stacklevel=1,
            )
        raw = f"dev:{key_file.read_text().strip()}"
    keys: dict[str, bytes] = {}
    for item in raw.split(","):
        key_id, _, encoded = item.strip().partition(":")
        try:
            key = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except ValueError:
            key = b""
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", key_id) or len(key) != 32:
            raise ImproperlyConfigured(
                "FILE_MASTER_KEYS entries must be <id>:<base64 of 32 random bytes>, "
                "the id 1-32 letters, digits, _ or -."
            )
        keys[key_id] = key
    return keys


FILE_MASTER_KEYS = _file_master_keys()

# --- Auth and security ------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
JWT_ACCESS_TTL_SECONDS = env_int("JWT_ACCESS_TTL_SECONDS", 15 * 60)
JWT_REFRESH_TTL_SECONDS = env_int("JWT_REFRESH_TTL_SECONDS", 14 * 24 * 3600)

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Content Security Policy: scripts only from our own files (no inline script anywhere; the
# page's first data travels as a JSON script block, which is not executed). Styles allow
# inline attributes, which the Django admin uses. Sockets go to the same origin ('self'
# covers ws/wss of the page's host in current browsers); recordings preview from blob:.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "media-src": ["'self'", "blob:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# django-ratelimit: counters live in the shared cache; we answer 429 ourselves.
RATELIMIT_USE_CACHE = "default"
RATELIMIT_ENABLE = env_bool("RATELIMIT_ENABLE", True)
# New accounts per IP address (the sign-up form).
RATE_SIGNUP = os.environ.get("RATE_SIGNUP", "10/h")

# --- Product rules (PRODUCT.md) ----------------------------------------------------------
CHAT = {
    "MESSAGE_MAX_CHARS": 5000,
    "DELETE_WINDOW_SECONDS": env_int("CHAT_DELETE_WINDOW_SECONDS", 300),
    "PAGE_SIZE": 50,
    "PAGE_MAX": 100,
    "CLIENT_TEXT_QUOTA_CHARS": 10_000,
    "CLIENT_VOICE_QUOTA_SECONDS": 600,
    "IMAGE_QUOTA": 10,
    "VOICE_MAX_SECONDS": 300,
    "RATE_VOICE_NOTES": os.environ.get("RATE_VOICE_NOTES", "10/m"),
    "RATE_UPLOADS": os.environ.get("RATE_UPLOADS", "20/m"),
    "RATE_SAFETY_ALERTS": os.environ.get("RATE_SAFETY_ALERTS", "5/10m"),
    "RATE_MESSAGES": os.environ.get("RATE_MESSAGES", "100/m"),
    # Every HTTP request counts against these, whatever else limits it (request_limits.py).
    "RATE_REQUESTS": os.environ.get("RATE_REQUESTS", "600/m"),
    "RATE_ANONYMOUS_REQUESTS": os.environ.get("RATE_ANONYMOUS_REQUESTS", "120/m"),
    "RATE_SOCKET_WATCH": os.environ.get("RATE_SOCKET_WATCH", "60/m"),
    "MAX_SOCKETS_PER_USER": env_int("MAX_SOCKETS_PER_USER", 10),
    # The review gate (PRODUCT.md "Approvals"): (message kind, sender role) pairs whose
    # messages wait for a reviewer before a client in the session can see them. Written as
    # "kind:role,kind:role", e.g. "voice:reader,image:reader".
    "HOLD_FOR_REVIEW": frozenset(
        tuple(pair.split(":", 1))
        for pair in env_list("APPROVALS_HOLD", ["voice:reader"])
        if ":" in pair
    ),
    "RATE_LOGIN_FAILURES": os.environ.get("RATE_LOGIN_FAILURES", "5/15m"),
    "RATE_SOCKET_FRAMES": os.environ.get("RATE_SOCKET_FRAMES", "30/10s"),
    # Room for the longest text message in a `message.send` frame (5,000 characters, JSON-escaped).
    "WS_MAX_FRAME_BYTES": 32768,
    "PRESENCE_TTL_SECONDS": 90,
}

# The emergency ladder (PRODUCT.md "Emergency"), counted from the request.
EMERGENCY = {
    "ESCALATE_STAFF_SECONDS": env_int("EMERGENCY_ESCALATE_STAFF_SECONDS", 30),
    "ESCALATE_SUPER_ADMINS_SECONDS": env_int("EMERGENCY_ESCALATE_SUPER_ADMINS_SECONDS", 60),
    # Unanswered this long, a request expires and the client is told.
    "EXPIRE_SECONDS": env_int("EMERGENCY_EXPIRE_SECONDS", 600),
    "DAILY_LIMIT": env_int("EMERGENCY_DAILY_LIMIT", 5),
    "RATE": os.environ.get("EMERGENCY_RATE", "3/h"),
    # An on-call reader with no open socket this long is taken off call.
    "OFFLINE_GRACE_SECONDS": 60,
    "WORKER_INTERVAL_SECONDS": 1,
    # Without Redis the server applies the ladder itself (chat/worker.py); with Redis,
    # `manage.py run_emergency_worker` does.
    "IN_SERVER_WORKER": env_bool("EMERGENCY_IN_SERVER_WORKER", not REDIS_URL),
}

APPROVALS = {
    "RATE_DECISIONS": os.environ.get("RATE_APPROVAL_DECISIONS", "120/m"),
}

# Retention (PRODUCT.md "Privacy"), in days, applied by `manage.py apply_retention`: a message
# older than its kind's period is removed with its file; a tombstone's row goes this many
# days after the deletion. Sessions under a legal hold keep everything.
RETENTION_DAYS = {
    "text": env_int("RETENTION_TEXT_DAYS", 730),
    "system": env_int("RETENTION_TEXT_DAYS", 730),
    "voice": env_int("RETENTION_VOICE_DAYS", 365),
    "image": env_int("RETENTION_FILE_DAYS", 365),
    "file": env_int("RETENTION_FILE_DAYS", 365),
    "emergency": env_int("RETENTION_TEXT_DAYS", 730),
    "tombstone": env_int("RETENTION_TOMBSTONE_DAYS", 30),
}

PRIVACY = {
    # Exports whose files add up to at most this are built during the request; larger
    # ones by the worker.
    "EXPORT_INLINE_BYTES": env_int("EXPORT_INLINE_BYTES", 5 * 1024 * 1024),
    "RATE_EXPORTS": os.environ.get("RATE_EXPORTS", "3/h"),
}

# The versions of the texts people consent to (docs/privacy.md). Raising TERMS_VERSION asks
# every client and reader to accept the terms again at their next visit.
TERMS_VERSION = os.environ.get("TERMS_VERSION", "2026-11")
VOICE_CONSENT_VERSION = os.environ.get("VOICE_CONSENT_VERSION", "2026-11")

# Email (password reset links). Without EMAIL_HOST, messages are written to the log.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "SAMIA Chat <no-reply@localhost>")

# --- Internationalisation -----------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ar", "العربية")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# One JSON object per line in production (for the log pipeline), plain text in development.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s %(process)d",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"daphne": {"level": "WARNING"}, "django.channels.server": {"level": "WARNING"}},
}
