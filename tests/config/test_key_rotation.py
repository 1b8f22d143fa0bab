"""SECRET_KEY rotation: signatures made with the old key still verify while it is a fallback."""

import pytest
from django.core import signing

from tests.config.test_settings import run_manage

OLD = "old-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ"
NEW = "new-key-9876543210-zyxwvutsrqponmlkjihgfedcba-JIHGFEDCBA"


def test_a_signature_made_with_the_previous_key_verifies_while_it_is_a_fallback(settings):
    settings.SECRET_KEY = OLD
    token = signing.dumps({"user": 1})
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW, [OLD]
    assert signing.loads(token) == {"user": 1}
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(signing.BadSignature):
        signing.loads(token)


def test_fallbacks_come_from_the_environment():
    result = run_manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.SECRET_KEY_FALLBACKS)",
        SECRET_KEY=NEW,
        SECRET_KEY_FALLBACKS=f"{OLD},another-old-key",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str([OLD, "another-old-key"])
