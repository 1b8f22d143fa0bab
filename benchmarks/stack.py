"""A production-like stack on loopback for the load run and the API contract run.

A fresh PostgreSQL database (dropped and created), migrated and seeded with the demo data, then
gunicorn (``config.wsgi``, DEBUG off, several workers) in front of it, with Redis for the cache and
broker when ``REDIS_URL`` / ``CELERY_BROKER_URL`` are set. ``with running_stack(...) as stack:``
gives the base URL and stops gunicorn afterwards. Nothing here touches the application database.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DEFAULT_DB_SERVER = "postgres://postgres@127.0.0.1:5432"
DEMO_LOGINS = {
    "provider": ("provider", "demo-provider-2027"),
    "customer": ("customer", "demo-customer-2027"),
    "admin": ("admin", "demo-admin-2027"),
}


@dataclass
class Stack:
    base_url: str
    database_url: str
    env: dict[str, str]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stack_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment gunicorn and manage.py run with: production settings on loopback."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "stack-only-secret-key-0123456789-abcdefghijkl"),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "SECURE_HSTS_SECONDS": "0",
        "STATIC_MANIFEST": "false",
        "LOG_LEVEL": "WARNING",
        "CONN_MAX_AGE": "60",
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra)
    return env


def recreate_database(database_url: str) -> None:
    import psycopg

    server, name = database_url.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL
    )


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        if _answers(url):
            return
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


@contextlib.contextmanager
def running_stack(
    db_name: str,
    *,
    workers: int = 3,
    threads: int = 1,
    extra_env: dict[str, str] | None = None,
    log=print,
) -> Iterator[Stack]:
    database_url = f"{os.environ.get('STACK_DB_SERVER', DEFAULT_DB_SERVER)}/{db_name}"
    env = stack_env(database_url, **(extra_env or {}))
    log(f"database {db_name}: recreate, migrate, seed_demo")
    recreate_database(database_url)
    manage(env, "migrate", "--noinput")
    manage(env, "seed_demo")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    command = [
        PYTHON,
        "-m",
        "gunicorn",
        "config.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--log-level",
        "warning",
    ]
    log(f"gunicorn: {workers} workers x {threads} threads on {base_url}")
    process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    try:
        wait_until_up(f"{base_url}/healthz", process)
        yield Stack(base_url=base_url, database_url=database_url, env=env)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def api_token(stack: Stack, role: str) -> str:
    """A fresh API token for a demo login, made in the database (not through the login
    endpoint, whose rate limit and lockout a fuzzing run may have used up for this address)."""
    username, _password = DEMO_LOGINS[role]
    code = (
        "from accounts.models import User; from accounts.services import api_token_create; "
        f"print(api_token_create(user=User.objects.get(username={username!r}), name='stack')[1])"
    )
    result = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=stack.env,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout.strip().splitlines()[-1]
