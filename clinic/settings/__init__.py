"""Chairside settings: every deployment choice is read from the environment here.

See README.md for the table of variables. ``clinic.env`` refuses values it cannot
understand, so a typo stops the process at start-up instead of in front of a patient.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from clinic.env import env

BASE_DIR = Path(__file__).resolve().parents[2]
DATA_DIR = Path(env.str("CHAIRSIDE_DATA_DIR", str(BASE_DIR / ".data"))).resolve()

DEBUG = env.bool("DEBUG", False)


def _development_secret_key() -> str:
    """A random key kept under .data/, so sessions survive restarts of `make run`."""
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = env.secret("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY (or SECRET_KEY_FILE) to a long random "
            "string, or set DEBUG=true for a local development run."
        )
    SECRET_KEY = _development_secret_key()

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS")
CSRF_FAILURE_VIEW = "clinic.views.errors.csrf_failure"
PORT = env.int("PORT", 8000, min_value=1, max_value=65535)
CLINIC_NAME = env.str("CLINIC_NAME", "Chairside Infusion Clinic")
CRISIS_LINE = env.str("CRISIS_LINE", "988")
# Shown with the number to a patient who reports thoughts of self-harm.
CRISIS_LINE_TEXT = env.str(
    "CRISIS_LINE_TEXT",
    "the Suicide & Crisis Lifeline: call or text, free, any time of the day or night",
)


INSTALLED_APPS = [
    "clinic.apps.ChairsideAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_htmx",
    "bootstrap",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_otp_webauthn",
    "csp",
    "clinic",
    "patients",
    "scheduling",
    "infusions",
    "outcomes",
    "billing",
    "content",
    "interop",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before anything reads the request: no NUL character reaches a view or the database.
    "clinic.middleware.RefuseNulCharactersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Wraps everything after it, so even a sign-out redirect or a refusal is not cached.
    "clinic.middleware.NoStoreMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After MessageMiddleware: it tells the user why they were signed out.
    "clinic.middleware.SessionLifetimeMiddleware",
    # After SessionLifetimeMiddleware: a half-signed-in session (password, no second factor
    # yet) expires like any other.
    "clinic.middleware.SecondFactorMiddleware",
    # After the second factor: a tablet handed to a patient shows only the hand-back page.
    "clinic.tablet.TabletHandbackMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "clinic.urls"
WSGI_APPLICATION = "clinic.wsgi.application"
ASGI_APPLICATION = "clinic.asgi.application"

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
                "clinic.context_processors.chairside",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASE_URL = env.secret("DATABASE_URL")
USING_EMBEDDED_POSTGRES = not DATABASE_URL
if USING_EMBEDDED_POSTGRES:
    from clinic import embedded_postgres

    DATABASE_URL = embedded_postgres.database_url(DATA_DIR)
try:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL,
            conn_max_age=env.int("DATABASE_CONN_MAX_AGE", 60, min_value=0),
            conn_health_checks=True,
        )
    }
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL cannot be used: {exc}") from None
# A few queries every view runs (the kept fragments' version queries, lookups by a unique
# key: clinic.queries.prepared_plans) are prepared once per connection and run by a generic
# plan: planning them cost more than running them. Django binds every other query on the
# client, which never prepares, so the plan mode applies to those few alone.
# Off (DATABASE_PREPARED_STATEMENTS=0) behind a pooler that cannot keep prepared statements
# (PgBouncer before 1.21 in transaction mode).
DATABASE_PREPARED_STATEMENTS = env.bool("DATABASE_PREPARED_STATEMENTS", True)
if DATABASE_PREPARED_STATEMENTS:
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options.setdefault("prepare_threshold", 5)  # psycopg's default; Django's turns it off
    _options["options"] = f"{_options.get('options', '')} -c plan_cache_mode=force_generic_plan"
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL (postgres://…).")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache and Celery ----------------------------------------------------------
REDIS_URL = env.secret("REDIS_URL")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "clinic.cache.RedisCache", "LOCATION": REDIS_URL}}
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {"visibility_timeout": 3600}
else:
    # Without Redis, processes on this machine still share a cache and a queue on disk.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
        }
    }
    _broker_dir = DATA_DIR / "celery-broker"
    (_broker_dir / "control").mkdir(parents=True, exist_ok=True)  # kombu does not create them
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", "chairside")
# Task modules other than each app's tasks.py (which autodiscovery finds): tasks that live
# next to the code that queues them, under their clinic.tasks.* names.
CELERY_IMPORTS = ["clinic.account_emails", "clinic.messaging.dispatch"]
CELERY_BEAT_SCHEDULE_FILENAME = env.str(
    "CELERY_BEAT_SCHEDULE_FILENAME", str(DATA_DIR / "celerybeat-schedule")
)
CELERY_BEAT_SCHEDULE = {
    "heartbeat": {"task": "clinic.tasks.record_heartbeat", "schedule": timedelta(minutes=1)},
    # Claims the outbox's due messages and queues one send task each (clinic.messaging.dispatch).
    # A run that waited past the next one is dropped: the next run claims the same rows.
    "dispatch-outbox": {
        "task": "clinic.tasks.dispatch_outbox",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 55},
    },
    # Queues the questionnaires due up to tomorrow, each with its own local send time, so
    # the hour it runs at does not matter; running it twice queues nothing twice.
    "enqueue-followups": {
        "task": "patients.tasks.enqueue_due_followups",
        "schedule": crontab(minute=0, hour=6),
    },
}
# Frees the times booked online that were held for a card or a deposit never given
# (billing.deposits); a run that waited past the next one is dropped.
CELERY_BEAT_SCHEDULE["release-booking-holds"] = {
    "task": "billing.tasks.release_expired_booking_holds",
    "schedule": timedelta(minutes=5),
    "options": {"expires": 295},
}
# Fails the FHIR bulk exports whose worker died (interop.fhir.bulk.fhir_exports_fail_stale).
CELERY_BEAT_SCHEDULE["fail-stale-fhir-exports"] = {
    "task": "interop.tasks.fail_stale_fhir_exports",
    "schedule": timedelta(minutes=5),
    "options": {"expires": 295},
}
CELERY_TIMEZONE = "UTC"

# --- Accounts, sessions and login -----------------------------------------------------
AUTH_USER_MODEL = "clinic.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "clinic.auth.EmailBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "staff:login"
LOGIN_REDIRECT_URL = "staff:home"
LOGOUT_REDIRECT_URL = "staff:login"

SESSION_IDLE_TIMEOUT = timedelta(minutes=env.int("SESSION_IDLE_MINUTES", 15, min_value=1))
SESSION_MAX_LIFETIME = timedelta(hours=env.int("SESSION_MAX_HOURS", 12, min_value=1))
SESSION_COOKIE_AGE = int(SESSION_MAX_LIFETIME.total_seconds())
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", 5, min_value=1)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", 15, min_value=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# The same address as the booking limits and the audit log: behind a proxy, per visitor.
AXES_CLIENT_IP_CALLABLE = "clinic.client_address.client_ip"

# --- Second factor (clinic.second_factor) -------------------------------------------------
# Which roles must use one is the clinic admins' choice, kept in the database
# (SecondFactorPolicy). Wrong codes count like wrong passwords: LOGIN_FAILURE_LIMIT of them
# pause the account for LOGIN_LOCKOUT_MINUTES; django-otp's own throttling is off so that
# there is one rule, stated on the page.
OTP_TOTP_ISSUER = CLINIC_NAME
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_STATIC_THROTTLE_FACTOR = 0
RECOVERY_CODE_COUNT = 10
# Passkeys (django-otp-webauthn). The relying party id is the domain passkeys belong to:
# WEBAUTHN_RP_ID, or else the host of each request (fine for one host name; set it when the
# clinic is reached under several). WEBAUTHN_ORIGINS lists the https origins pages are served
# from (comma-separated); unset, each request's own origin is used.
WEBAUTHN_RP_ID = env.str("WEBAUTHN_RP_ID")
WEBAUTHN_ORIGINS = env.list("WEBAUTHN_ORIGINS")
if not all(origin.startswith(("https://", "http://localhost")) for origin in WEBAUTHN_ORIGINS):
    raise ImproperlyConfigured(
        "WEBAUTHN_ORIGINS must be https addresses separated by commas, e.g. "
        "https://clinic.example.com (http is allowed for localhost only)."
    )
OTP_WEBAUTHN_RP_ID_CALLABLE = "clinic.passkeys.relying_party_id"
OTP_WEBAUTHN_RP_NAME = CLINIC_NAME
OTP_WEBAUTHN_HELPER_CLASS = "clinic.passkeys.PasskeyHelper"
OTP_WEBAUTHN_ALLOWED_ORIGINS = WEBAUTHN_ORIGINS
# A passkey is a second factor here, after the password, never a way round it.
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = False

DEMO_PASSWORD = env.secret("DEMO_PASSWORD", "chairside-demo")
DEMO_EMAIL_DOMAIN = "demo.chairside.test"

# --- Production hardening (check --deploy is clean when DEBUG is off) ----------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365, min_value=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", False)
if env.bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Proxies of our own in front of the web server, each appending to X-Forwarded-For: the
# visitor's address is the entry this many from the right (clinic.client_address). 0 trusts
# no header (REMOTE_ADDR); more than there really are lets visitors choose their address.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", 0, min_value=0, max_value=10)
# Content-Security-Policy (django-csp): no inline script or style anywhere. Behaviour lives
# in static/js/chairside.js (wired by data attributes), looks in static/css; the few inline
# elements that must stay (the FAQ's JSON-LD) carry the request's nonce, request.csp_nonce.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}
# HSTS preload is opt-in (SECURE_HSTS_PRELOAD=true): once a domain is on the browsers'
# preload list it is hard to get off, so that is each clinic's decision, and until it
# is made the reminder (security.W021) would only teach people to ignore the checks.
SILENCED_SYSTEM_CHECKS = env.list(
    "SILENCED_SYSTEM_CHECKS", [] if DEBUG or SECURE_HSTS_PRELOAD else ["security.W021"]
)
if not WEBAUTHN_ORIGINS:
    # "No allowed origins": clinic.passkeys.PasskeyHelper takes each request's own origin.
    SILENCED_SYSTEM_CHECKS.append("otp_webauthn.E030")

# --- Email and SMS ----------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", "Chairside <no-reply@chairside.test>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_HOST = env.str("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env.int("EMAIL_PORT", 587, min_value=1, max_value=65535)
    EMAIL_HOST_USER = env.str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env.secret("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", True)
    EMAIL_TIMEOUT = 20
else:
    # Nothing leaves the machine until an SMTP server is configured: mail lands in files.
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(DATA_DIR / "mail")

SMS_BACKEND = env.choice("SMS_BACKEND", "file", ["file", "http", "twilio"])
SMS_FILE_PATH = env.str("SMS_FILE_PATH", str(DATA_DIR / "sms"))
# Where the FHIR bulk export writes its NDJSON files (interop.fhir.bulk), one folder a job.
FHIR_EXPORT_DIR = Path(env.str("FHIR_EXPORT_DIR", str(DATA_DIR / "fhir-exports"))).resolve()
# A bulk export whose worker has said nothing for this long (a batch takes seconds), or that
# no worker has picked up in this long, is marked failed so that a new one can start.
FHIR_EXPORT_STALE_MINUTES = env.int("FHIR_EXPORT_STALE_MINUTES", 15, min_value=2, max_value=1440)
SMS_API_URL = env.str("SMS_API_URL")
SMS_API_TOKEN = env.secret("SMS_API_TOKEN")
SMS_FROM_NUMBER = env.str("SMS_FROM_NUMBER")
if SMS_BACKEND == "http" and not (SMS_API_URL and SMS_API_TOKEN and SMS_FROM_NUMBER):
    raise ImproperlyConfigured(
        "SMS_BACKEND=http needs SMS_API_URL, SMS_API_TOKEN (or SMS_API_TOKEN_FILE) "
        "and SMS_FROM_NUMBER."
    )
# Twilio (clinic.messaging.channels.TwilioSmsBackend): the account SID (AC…) with its auth
# token in SMS_API_TOKEN; the token also checks the signature of inbound texts.
SMS_TWILIO_ACCOUNT_SID = env.str("SMS_TWILIO_ACCOUNT_SID")
if SMS_BACKEND == "twilio":
    if not (SMS_TWILIO_ACCOUNT_SID and SMS_API_TOKEN and SMS_FROM_NUMBER):
        raise ImproperlyConfigured(
            "SMS_BACKEND=twilio needs SMS_TWILIO_ACCOUNT_SID, SMS_API_TOKEN (or "
            "SMS_API_TOKEN_FILE: the account's auth token) and SMS_FROM_NUMBER."
        )
    if not re.fullmatch(r"AC[0-9a-fA-F]{32}", SMS_TWILIO_ACCOUNT_SID):
        raise ImproperlyConfigured(
            "SMS_TWILIO_ACCOUNT_SID must be the Account SID shown in the Twilio console: "
            "AC followed by 32 hexadecimal digits."
        )
    if SMS_API_URL and not SMS_API_URL.startswith(("https://", "http://")):
        raise ImproperlyConfigured(
            "SMS_API_URL must be an http(s) address (leave it unset for Twilio's own, "
            "https://api.twilio.com)."
        )
    SMS_API_URL = SMS_API_URL or "https://api.twilio.com"
# Seconds to wait for the SMS provider before a send counts as failed (and is retried).
SMS_TIMEOUT_SECONDS = env.int("SMS_TIMEOUT_SECONDS", 10, min_value=1, max_value=120)

# The outbox (clinic.messaging.outbox). Each minute beat claims due messages, keeping at most
# OUTBOX_DISPATCH_LIMIT claimed and not yet sent, each for OUTBOX_LEASE_SECONDS: the lease
# covers the wait in the queue and the send, and a claim left by a dead worker is taken over
# when it runs out, so it must be longer than any send may take. A failed send is retried
# after OUTBOX_RETRY_BASE_SECONDS, doubling each time up to OUTBOX_RETRY_MAX_SECONDS; after
# OUTBOX_MAX_ATTEMPTS it is marked failed. Texts through a provider that honours idempotency
# keys are sent in batches of up to OUTBOX_BATCH_SIZE, one task and one transaction each
# (clinic.messaging.outbox).
OUTBOX_LEASE_SECONDS = env.int("OUTBOX_LEASE_SECONDS", 300, min_value=2, max_value=3600)
OUTBOX_DISPATCH_LIMIT = env.int("OUTBOX_DISPATCH_LIMIT", 1000, min_value=1, max_value=100_000)
OUTBOX_RETRY_BASE_SECONDS = env.int("OUTBOX_RETRY_BASE_SECONDS", 60, min_value=1)
OUTBOX_RETRY_MAX_SECONDS = env.int("OUTBOX_RETRY_MAX_SECONDS", 3600, min_value=1)
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", 8, min_value=1, max_value=100)
OUTBOX_BATCH_SIZE = env.int("OUTBOX_BATCH_SIZE", 200, min_value=1, max_value=1000)
_longest_send = max(SMS_TIMEOUT_SECONDS, EMAIL_TIMEOUT if EMAIL_HOST else 0)
if _longest_send >= OUTBOX_LEASE_SECONDS:
    raise ImproperlyConfigured(
        f"OUTBOX_LEASE_SECONDS={OUTBOX_LEASE_SECONDS} is too short: make it longer than a send "
        f"may take ({_longest_send} s, SMS_TIMEOUT_SECONDS or the SMTP timeout)."
    )

# Inbound texts (STOP) at /m/sms/inbound/ are accepted only with an HMAC-SHA256 of the body
# made with this secret (clinic.messaging.inbound); with none set, every one is refused.
# Twilio posts to /m/sms/twilio/ instead, signed with the auth token (SMS_API_TOKEN).
SMS_WEBHOOK_SECRET = env.secret("SMS_WEBHOOK_SECRET")
if SMS_BACKEND == "http" and not SMS_WEBHOOK_SECRET:
    raise ImproperlyConfigured(
        "SMS_BACKEND=http needs SMS_WEBHOOK_SECRET (or SMS_WEBHOOK_SECRET_FILE), so that "
        "patients' STOP replies from the provider can be accepted."
    )

# Where patients reach the site, for links in messages sent by workers (no request there),
# e.g. https://clinic.example.com.
SITE_URL = env.str("SITE_URL", f"http://localhost:{PORT}" if DEBUG else "").rstrip("/")
if EMAIL_HOST and not SITE_URL:
    raise ImproperlyConfigured(
        "EMAIL_HOST is set but SITE_URL is not: set SITE_URL to the address patients use "
        "(e.g. https://clinic.example.com), so emails carry working unsubscribe links."
    )
if SMS_BACKEND == "twilio" and not SITE_URL:
    raise ImproperlyConfigured(
        "SMS_BACKEND=twilio needs SITE_URL (e.g. https://clinic.example.com): Twilio signs "
        "each inbound text with the address it called, /m/sms/twilio/ under SITE_URL."
    )

# --- Card payments (Stripe) -----------------------------------------------------------------
# With no secret key, card payments are off (billing.stripe.gateway.enabled() is False) and
# nothing calls Stripe; cash, cheque and card-terminal payments work as ever. The webhook
# secret (whsec_…) is the signing secret of the endpoint added in Stripe's dashboard.
# STRIPE_API_BASE is Stripe's address; tests point it at a local fake (tests/fake_stripe.py).
STRIPE_SECRET_KEY = env.secret("STRIPE_SECRET_KEY")
STRIPE_PUBLISHABLE_KEY = env.str("STRIPE_PUBLISHABLE_KEY")
STRIPE_WEBHOOK_SECRET = env.secret("STRIPE_WEBHOOK_SECRET")
STRIPE_API_BASE = env.str("STRIPE_API_BASE", "https://api.stripe.com").rstrip("/")
if not STRIPE_API_BASE.startswith(("https://", "http://")):
    raise ImproperlyConfigured(
        "STRIPE_API_BASE must be an http(s) address (leave it unset for Stripe's own, "
        "https://api.stripe.com)."
    )
if STRIPE_SECRET_KEY:
    if not STRIPE_SECRET_KEY.startswith(("sk_", "rk_")):
        raise ImproperlyConfigured(
            "STRIPE_SECRET_KEY must be a secret key from Stripe's dashboard (sk_live_…, "
            "sk_test_…, or a restricted rk_… key), not the publishable pk_… key."
        )
    if not STRIPE_WEBHOOK_SECRET.startswith("whsec_"):
        raise ImproperlyConfigured(
            "STRIPE_SECRET_KEY is set but STRIPE_WEBHOOK_SECRET is not a webhook signing "
            "secret (whsec_…): without it no payment made on Stripe's pages is ever recorded. "
            "Add the clinic's webhook endpoint in Stripe's dashboard (see README.md) and "
            "copy its signing secret."
        )
    if STRIPE_PUBLISHABLE_KEY and not STRIPE_PUBLISHABLE_KEY.startswith("pk_"):
        raise ImproperlyConfigured(
            "STRIPE_PUBLISHABLE_KEY must be the publishable key (pk_live_… or pk_test_…)."
        )
    _stripe_modes = {
        key.split("_")[1] for key in (STRIPE_SECRET_KEY, STRIPE_PUBLISHABLE_KEY) if key
    }
    if len(_stripe_modes) > 1:
        raise ImproperlyConfigured(
            "STRIPE_SECRET_KEY and STRIPE_PUBLISHABLE_KEY are from different modes (one live, "
            "one test): take both from the same page of Stripe's dashboard."
        )

# --- The clinic's rules (messages, screening, scheduling, follow-ups, the chair, outcomes) ---
# Kept apart, in clinic/settings/clinical.py, from the platform's settings here.
from clinic.settings.clinical import *  # noqa: E402, F403
from clinic.settings.clinical import OUTCOME_FACTS_REFRESH_MINUTES  # noqa: E402

# Counts the outcomes dashboard's figures again (outcomes.facts); a run that waited past
# the next one is dropped: the next one counts everything anyway.
CELERY_BEAT_SCHEDULE["refresh-outcome-facts"] = {
    "task": "outcomes.tasks.refresh_outcome_facts",
    "schedule": timedelta(minutes=OUTCOME_FACTS_REFRESH_MINUTES),
    "options": {"expires": OUTCOME_FACTS_REFRESH_MINUTES * 60 - 5},
}

# --- API --------------------------------------------------------------------------------
# Personal API tokens (clinic.api_tokens) stop working this many days after they are made.
API_TOKEN_DAYS = env.int("API_TOKEN_DAYS", 90, min_value=1, max_value=730)
REST_FRAMEWORK = {
    # Token first: DRF takes the first class's WWW-Authenticate challenge, so a missing or
    # revoked token gets 401 (try again with credentials) rather than 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "clinic.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["clinic.api.permissions.IsActiveStaff"],
    # DRF's parsers, with JSON refusing a body nested too deeply to parse with a 400.
    "DEFAULT_PARSER_CLASSES": [
        "clinic.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "clinic.api.exceptions.exception_handler",
    "DEFAULT_METADATA_CLASS": "clinic.api.metadata.ApiMetadata",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Chairside API",
    "DESCRIPTION": (
        "Integration API for Chairside, practice management for ketamine clinics.\n\n"
        "Lists come in pages of 50. The long ones (appointments, patients, infusion "
        "sessions, courses, invoices, payments, refunds) are not counted: each page has "
        "`next` and `previous` links holding a `cursor`; follow `next` until it is null. "
        "The others also give `count` and take `page`."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # Choice sets that share a field name with another get a name of their own: how a
    # payment was made and the methods the desk may record by hand (billing.api), the kinds
    # of a loss and the ways of destroying stock (infusions' DEA records).
    "ENUM_NAME_OVERRIDES": {
        "PaymentMethodEnum": "billing.models.PaymentMethod",
        "DeskPaymentMethodEnum": [("terminal", "terminal"), ("cash", "cash"), ("cheque", "cheque")],
        "LossKindEnum": "infusions.models.dea.LossKind",
        "DestructionMethodEnum": "infusions.models.dea.DestructionMethod",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "clinic.api.schema.declare_errors_and_local_times",
    ],
}

# --- Static files, templates, i18n ------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", DEBUG)
CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("CLINIC_DEFAULT_TIME_ZONE", "America/New_York")
USE_I18N = True
USE_TZ = True

# --- Logging: never patient data; request details stay out of error mails ---------------
LOG_LEVEL = env.choice("LOG_LEVEL", "INFO", ["DEBUG", "INFO", "WARNING", "ERROR"])
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "pgserver": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        # The stripe package logs every request's URL at INFO (customer and payment ids);
        # failures reach our own log through billing's services, which say what happened.
        "stripe": {"level": "WARNING"},
    },
}
