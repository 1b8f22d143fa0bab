"""Settings for the compute rental marketplace, read from the environment (12-factor).

With no environment at all the app runs on the *embedded default*: SQLite, Celery tasks run
eagerly in-process and payments go through the offline bank-transfer gateway. Setting
``DATABASE_URL``, ``CELERY_BROKER_URL`` (or ``REDIS_URL``) and ``STRIPE_API_KEY`` switches to
the real services. ``DEBUG`` is off unless set, and then ``SECRET_KEY`` is required.
"""

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import environ
import xstatic.pkg.bootstrap
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off. Set SECRET_KEY in the environment, "
            "or DEBUG=1 for local development."
        )
    # Development only: a fixed, obviously unsafe key so sessions survive restarts.
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"  # nosec B105 # DEBUG only

# Key rotation: the previous keys, still accepted for signatures (sessions, password resets)
# made before the switch; drop them once those have expired (docs/operations.md).
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.forms",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_htmx",
    "csp",
    "axes",
    "accounts",
    "inventory",
    "marketplace",
    "billing",
]

MIDDLEWARE = [
    # Before SecurityMiddleware: X-Forwarded-* count only from TRUSTED_PROXIES.
    "config.middleware.TrustedProxyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    # A view that loses the database answers 503 (JSON under /api/), never a 500.
    "config.middleware.DatabaseUnavailableMiddleware",
    # Last: turns a login refused by django-axes into a 429 (accounts.throttling).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

FORM_RENDERER = "accounts.rendering.SiteFormRenderer"
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
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "accounts.context_processors.organization",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Wait for the write lock rather than failing at once when a worker thread holds it.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# SQLite ignores the covering columns of PostgreSQL's INCLUDE indexes, and cannot make NULLs
# equal in a unique constraint (one price index row per day, model and region or none): on the
# embedded default the index task, which rewrites a day's rows in one transaction, keeps it.
SILENCED_SYSTEM_CHECKS = ["models.W040", "models.W047"]
IS_POSTGRES = DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql")

# --- Cache (login and API throttles) -------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
# Seconds to wait for Redis before carrying on without it (cache) or giving up a publish.
REDIS_TIMEOUT_SECONDS = env.float("REDIS_TIMEOUT_SECONDS", default=1.0)
# The read cache (accounts.readcache): how long a cached search, list or public page lives;
# 0 turns it off. Writes retire copies at once; this bounds only what no write announces.
READ_CACHE_SECONDS = env.float("READ_CACHE_SECONDS", default=5.0)
if env.str("CACHE_URL", default=""):
    CACHES = {"default": env.cache("CACHE_URL")}
elif REDIS_URL:
    # Requests are served while Redis is down: the cache then answers "not cached".
    CACHES = {
        "default": {
            "BACKEND": "config.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
                "socket_timeout": REDIS_TIMEOUT_SECONDS,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "home"
AUTHENTICATION_BACKENDS = [
    "accounts.throttling.LoginThrottleBackend",  # django-axes: refuses locked-out clients
    "django.contrib.auth.backends.ModelBackend",
]
# Login throttling (django-axes, failures stored in the database: shared by every process).
# Failed logins allowed per (username, client address) and per client address, within the
# lockout window; then every login from there is refused until the window has passed.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_FAILURE_LIMIT_PER_ADDRESS = env.int("LOGIN_FAILURE_LIMIT_PER_ADDRESS", default=30)
LOGIN_LOCKOUT_MINUTES = env.int("LOGIN_LOCKOUT_MINUTES", default=15)
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_HANDLER = "accounts.throttling.LoginThrottleHandler"
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "accounts.network.request_client_address"
AXES_LOCKOUT_CALLABLE = "accounts.throttling.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
# Invitations to join an organisation are good for this many days.
INVITATION_VALID_DAYS = env.int("INVITATION_VALID_DAYS", default=7)
# Password reset links (Django's) stay valid for three days.
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3 * 24 * 60 * 60)

# --- Internationalisation -------------------------------------------------------------------
# Simplified Chinese when the browser asks for any zh (or by the switch), English otherwise.
LANGUAGE_CODE = "en"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True
LANGUAGE_COOKIE_AGE = 365 * 24 * 60 * 60
LANGUAGE_COOKIE_SAMESITE = "Lax"

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Third-party assets come from packages installed at setup, never from a CDN or a vendored copy:
# Bootstrap from XStatic-Bootstrap (under /static/bootstrap/), htmx from django-htmx's app.
STATICFILES_DIRS = [BASE_DIR / "static", ("bootstrap", xstatic.pkg.bootstrap.BASE_DIR)]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if env.bool("STATIC_MANIFEST", default=not DEBUG)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Security (safe by default; each can be relaxed from the environment) --------------------
# Reverse proxies whose X-Forwarded-* headers are believed (addresses or CIDRs, comma-separated).
# Empty: no proxy is trusted and REMOTE_ADDR is the client (accounts.network).
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Content-Security-Policy: pages load scripts, styles, fonts and images only from this origin,
# with no inline script or style (htmx's indicator styles are turned off in base.html).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "object-src": [NONE],
    }
}

# --- Email ----------------------------------------------------------------------------------
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="billing@compute-market.local")

# --- REST framework -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "accounts.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    # Filters, ordering, pagination and ?format= refuse what they do not understand (400).
    "DEFAULT_FILTER_BACKENDS": [
        "accounts.api.filters.StrictFilterBackend",
        "accounts.api.filters.StrictOrderingFilter",
    ],
    # The API speaks JSON only: a form-encoded body is a 415, not strings for every type.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "accounts.api.input.StrictContentNegotiation",
    "DEFAULT_SCHEMA_CLASS": "accounts.api.schema.StandardAutoSchema",
    "EXCEPTION_HANDLER": "accounts.api.exceptions.api_exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    # Requests per client address (accounts.network) to the sign-up and token endpoints; failed
    # logins are limited separately by django-axes.
    "DEFAULT_THROTTLE_RATES": {"login": env.str("API_LOGIN_RATE", default="20/min")},
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Compute Rental Marketplace API",
    "DESCRIPTION": (
        "Rent AI compute (A800/H800-class GPU servers) rated in P (PFLOPS, FP16 sparse), "
        "priced per P per year, tax included. Decimal quantities are JSON strings."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "ClusterInterconnectEnum": "inventory.models.Interconnect",
        "InterconnectRequirementEnum": "marketplace.models.InterconnectRequirement",
        "ClusterStatusEnum": "inventory.models.ClusterStatus",
        "ContractStatusEnum": "marketplace.models.ContractStatus",
        "ContractHistoryKindEnum": "marketplace.models.ContractHistoryKind",
        "QuoteStatusEnum": "marketplace.models.QuoteStatus",
        "RequestStatusEnum": "marketplace.models.RequestStatus",
        "PaymentStatusEnum": "billing.models.PaymentStatus",
        "InvoiceStatusEnum": "billing.models.InvoiceStatus",
        "FapiaoKindEnum": "billing.models.FapiaoKind",
        "FapiaoStatusEnum": "billing.models.FapiaoStatus",
    },
}

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
# No broker configured: run every task eagerly in-process (the embedded default).
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "memory://localhost/"
# Results: the daily billing run is a chord (invoice chunks, then the rest in order), which needs
# a result backend; with a Redis broker the same Redis serves, unless one is set explicitly.
CELERY_RESULT_BACKEND = (
    env.str("CELERY_RESULT_BACKEND", default="")
    or (CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else "")
    or None
)
CELERY_RESULT_EXPIRES = env.int("CELERY_RESULT_EXPIRES", default=24 * 60 * 60)
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=15 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=14 * 60)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A request that enqueues a task while the broker is down waits at most about a second, then
# the task goes to the outbox (accounts.outbox) and is handed over once the broker is back.
CELERY_BROKER_CONNECTION_TIMEOUT = REDIS_TIMEOUT_SECONDS
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": REDIS_TIMEOUT_SECONDS}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "purge-expired-holds": {"task": "inventory.purge_expired_holds", "schedule": 15 * 60},
    "purge-expired-resale-holds": {
        "task": "marketplace.purge_expired_resale_holds",
        "schedule": 15 * 60,
    },
    "advance-contracts": {"task": "marketplace.advance_contracts", "schedule": 60 * 60},
    "reconcile-payments": {"task": "billing.reconcile_payments", "schedule": 15 * 60},
    # Tasks enqueued while the broker was down, handed to it once it answers again.
    "flush-task-outbox": {"task": "accounts.flush_task_outbox", "schedule": 60},
    # The daily billing run, in order: invoice chunks (a group), then settlements, overdue
    # marking, flags, payouts, collection and dunning (a chord and a chain); after midnight.
    "billing-run-day": {"task": "billing.run_day", "schedule": crontab(hour=0, minute=30)},
    # The public compute price index of the day, late enough to see the day's contracts.
    "record-price-index": {
        "task": "marketplace.record_price_index",
        "schedule": crontab(hour=23, minute=50),
    },
}

# --- Domain settings ------------------------------------------------------------------------
CURRENCY = env.str("CURRENCY", default="CNY")
# VAT on computing services, as a fraction (6%).
VAT_RATE = Decimal(env.str("VAT_RATE", default="0.06"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # django-axes logs every failed login as a warning (with the username masked).
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}

SESSION_COOKIE_AGE = int(timedelta(days=14).total_seconds())

# --- Marketplace ----------------------------------------------------------------------------
# How long a quote holds its capacity.
QUOTE_VALIDITY_MINUTES = env.int("QUOTE_VALIDITY_MINUTES", default=30)
QUOTES_PER_REQUEST = env.int("QUOTES_PER_REQUEST", default=5)
# Providers may not end a contract early without this much notice (days).
PROVIDER_TERMINATION_NOTICE_DAYS = env.int("PROVIDER_TERMINATION_NOTICE_DAYS", default=90)
# The market's reference rate (DOMAIN.md, the source article): CNY per P per year, tax
# included, and the catalog models of the home page's worked examples (8-card servers).
REFERENCE_PRICE_PER_P_YEAR = Decimal(env.str("REFERENCE_PRICE_PER_P_YEAR", default="120000"))
REFERENCE_GPU_MODELS = env.list("REFERENCE_GPU_MODELS", default=["A800-80G", "H800-80G"])

# --- Billing --------------------------------------------------------------------------------
INVOICE_NET_DAYS = env.int("INVOICE_NET_DAYS", default=15)
OVERDUE_GRACE_DAYS = env.int("OVERDUE_GRACE_DAYS", default=30)  # then flag the contract
DUNNING_RETRY_DAYS = env.list("DUNNING_RETRY_DAYS", cast=int, default=[1, 3, 7])
PLATFORM_COMMISSION_RATE = Decimal(env.str("PLATFORM_COMMISSION_RATE", default="0.10"))
# What the commission is taken on: "net_of_vat" (the VAT-exclusive amount collected, the
# default) or "collected" (the amount collected, tax included).
PLATFORM_COMMISSION_BASE = env.str("PLATFORM_COMMISSION_BASE", default="net_of_vat")
if PLATFORM_COMMISSION_BASE not in ("net_of_vat", "collected"):
    raise ImproperlyConfigured("PLATFORM_COMMISSION_BASE must be net_of_vat or collected.")
# The platform's own legal entity: the merchant of record. It sells capacity to customers (the
# seller on every statement), collects, and pays providers what was collected less commission.
# Customers paying by bank transfer pay into PLATFORM_BANK_* quoting the invoice number.
PLATFORM_LEGAL_NAME = env.str("PLATFORM_LEGAL_NAME", default="算力市场（上海）科技有限公司")
PLATFORM_LEGAL_NAME_EN = env.str(
    "PLATFORM_LEGAL_NAME_EN", default="Compute Market (Shanghai) Technology Co., Ltd."
)
PLATFORM_CREDIT_CODE = env.str("PLATFORM_CREDIT_CODE", default="91310115MA1K000003")
PLATFORM_REGISTERED_ADDRESS = env.str(
    "PLATFORM_REGISTERED_ADDRESS", default="上海市浦东新区张江高科技园区博云路 2 号"
)
PLATFORM_PHONE = env.str("PLATFORM_PHONE", default="021-5000 0000")
PLATFORM_BANK_NAME = env.str("PLATFORM_BANK_NAME", default="招商银行上海张江支行")
PLATFORM_BANK_ACCOUNT = env.str("PLATFORM_BANK_ACCOUNT", default="1219 0000 0000 0001")
# The item a fapiao for our service names (项目名称), as the tax-control software imports it.
FAPIAO_ITEM_NAME = env.str("FAPIAO_ITEM_NAME", default="*信息技术服务*算力服务费")
PLATFORM_BILLING_EMAIL = env.str("PLATFORM_BILLING_EMAIL", default="billing@compute-market.local")
BILLING_CHUNK_SIZE = env.int("BILLING_CHUNK_SIZE", default=500)
STRIPE_API_KEY = env.str("STRIPE_API_KEY", default="")
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="https://api.stripe.com")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
# Where Stripe's hosted Checkout pages live: the invoice page's CSP lets its pay form go there.
STRIPE_CHECKOUT_ORIGIN = env.str("STRIPE_CHECKOUT_ORIGIN", default="https://checkout.stripe.com")
STRIPE_TIMEOUT_SECONDS = env.float("STRIPE_TIMEOUT_SECONDS", default=20.0)
# Without a Stripe key, payments go through the offline bank-transfer gateway.
PAYMENTS_GATEWAY = "stripe" if STRIPE_API_KEY else "bank_transfer"
