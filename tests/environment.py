"""Loaded as a pytest plugin (``-p tests.environment``) before Django's settings are read.

Tests run with the production settings module and DEBUG off, which needs a SECRET_KEY, and over
plain HTTP, so the HTTPS redirect is turned off. Everything else comes from the environment:
``DATABASE_URL`` and ``CELERY_BROKER_URL`` select PostgreSQL and Redis.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-0123456789")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("STATIC_MANIFEST", "false")
