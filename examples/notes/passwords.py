"""Password hashing with the standard library: scrypt with a random salt per password.

A stored hash reads ``scrypt:N:R:P$SALT$DIGEST`` (hex), so the cost parameters can be raised
later without breaking the hashes already stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

# scrypt's cost: 2**14 * 8 * 128 bytes = 16 MiB of memory and tens of milliseconds per hash.
COST = 2**14
BLOCK_SIZE = 8
PARALLELISM = 1
SALT_BYTES = 16


def _scrypt(password: str, salt: bytes, cost: int, block_size: int, parallelism: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=cost,
        r=block_size,
        p=parallelism,
        maxmem=2 * 128 * cost * block_size * parallelism,
    )


def hash_password(password: str) -> str:
    """A salted scrypt hash of ``password``, to store instead of the password."""
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, COST, BLOCK_SIZE, PARALLELISM)
    return f"scrypt:{COST}:{BLOCK_SIZE}:{PARALLELISM}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored_hash: str) -> bool:
    """Whether ``password`` is the one ``stored_hash`` was made from."""
    method, salt, expected = stored_hash.split("$")
    _, cost, block_size, parallelism = method.split(":")
    digest = _scrypt(password, bytes.fromhex(salt), int(cost), int(block_size), int(parallelism))
    # compare_digest takes as long for a near miss as for a wild guess: no timing hints.
    return hmac.compare_digest(digest, bytes.fromhex(expected))
