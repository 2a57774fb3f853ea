"""Salted PBKDF2-SHA256 password hashes, self-describing so the iteration count can change later.

Stored form: ``pbkdf2_sha256$<iterations>$<salt hex>$<hash hex>``.
"""

from __future__ import annotations

import hashlib
import hmac
import os

ALGORITHM = "pbkdf2_sha256"
SALT_BYTES = 16


def _stored(iterations: int, salt: bytes, digest: bytes) -> str:
    return f"{ALGORITHM}${iterations}${salt.hex()}${digest.hex()}"


def hash_password(password: str, iterations: int) -> str:
    salt = os.urandom(SALT_BYTES)
    return _stored(iterations, salt, hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations))


def decoy_hash(iterations: int) -> str:
    """A stored hash no password matches that costs as much to verify as a real one.

    Verifying recomputes PBKDF2 from the salt and the iteration count, so the digest can be random
    bytes: the check takes the same time without paying for a hash at start-up.
    """
    return _stored(iterations, os.urandom(SALT_BYTES), os.urandom(hashlib.sha256().digest_size))


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check; a malformed stored hash never verifies."""
    try:
        algorithm, iterations, salt, expected = stored.split("$")
        rounds = int(iterations)
        salt_bytes, expected_bytes = bytes.fromhex(salt), bytes.fromhex(expected)
    except ValueError:
        return False
    if algorithm != ALGORITHM:
        return False
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt_bytes, rounds)
    return hmac.compare_digest(digest, expected_bytes)
