"""The gateway's own secrets: the master key that wraps subjects' data keys, and the identifier HMAC key."""

from gateway.keys.envelope import decrypt, encrypt, new_data_key, unwrap_key, wrap_key
from gateway.keys.keyring import KeyRing, KeysMissing, load_keyring, load_or_create_keyring

__all__ = [
    "KeyRing",
    "KeysMissing",
    "decrypt",
    "encrypt",
    "load_keyring",
    "load_or_create_keyring",
    "new_data_key",
    "unwrap_key",
    "wrap_key",
]
