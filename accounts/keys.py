"""Random secrets handed to people (API keys, invitation links) and the digests we keep of them.

Only ``digest(secret)`` (sha256, hex) is stored; the secret itself is shown or mailed once. A
secret has 240 random bits, so a plain sha256 without salt or stretching is enough: nobody can
guess one from its digest, and lookups stay one indexed equality.
"""

import hashlib
import secrets

API_KEY_PREFIX = "cm_"  # tells our keys apart in logs and secret scanners
SHOWN_PREFIX_LENGTH = 11  # "cm_" + 8 characters, shown in lists to tell keys apart


def new_secret(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(30)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
