"""Settings fail loudly without a SECRET_KEY in production and pass Django's deploy checks."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args: str, **env_overrides: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_missing_secret_key_with_debug_off_fails_loudly():
    result = run_manage("check")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_debug_on_runs_without_secret_key():
    result = run_manage("check", DEBUG="1")
    assert result.returncode == 0, result.stderr


def test_production_settings_pass_check_deploy():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECRET_KEY="x7#Lq2!vR9@pW4$zN8^mK3&bT6*hY1(cJ5)fG0-dS2_aQ9+eU4=",
        ALLOWED_HOSTS="market.example.cn",
        SECURE_SSL_REDIRECT="true",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_platforms_default_credit_code_is_valid():
    from django.conf import settings

    from accounts.uscc import is_valid

    assert is_valid(settings.PLATFORM_CREDIT_CODE)
