"""What goes into memcached and what may come out: only values this process's app wrote.

python-binary-memcached unpickles any value whose flags say "object", so anyone
who can write to the cache — its credentials, another app sharing it, anyone on
the network path of SASL PLAIN — could run code in every worker with one
planted value. Here every value but an integer is pickled and then signed with
HMAC-SHA256 under a key derived from Django's SECRET_KEY; a value is unpickled
only after its signature checks. Integers stay memcached's plain decimal
numbers, which ``incr`` and ``decr`` need, and are parsed strictly. Anything
else read back — unsigned, signed with another key, a number too long to be
one — is ``UNTRUSTED``, which the backend treats as a miss and logs once.
Compression happens after pickling and is undone only for signed values, and
then only up to ``MAX_VALUE_BYTES``.
"""

import enum
import hashlib
import hmac
import pickle
import re
import zlib

# Flag bits: bmemcached's own "integer", and ours, in bits it does not use.
INTEGER = 1 << 1
SIGNED_PICKLE = 1 << 8
COMPRESSED = 1 << 9

COMPRESSION_THRESHOLD = 1024
# memcached stores at most 1 MB per item; nothing this app writes inflates beyond this.
MAX_VALUE_BYTES = 16 * 1024 * 1024
_DIGEST = hashlib.sha256
_DIGEST_SIZE = _DIGEST().digest_size
# memcached's counters are unsigned 64-bit; Django may store a negative int with set(). A decr
# that shortens the number leaves trailing spaces in its place.
_NUMBER = re.compile(rb"-?[0-9]{1,20} {0,20}")


class Untrusted(enum.Enum):
    VALUE = "a value this app did not write"


UNTRUSTED = Untrusted.VALUE


def signing_key(secret: str) -> bytes:
    """The key values are signed with: derived from the secret, never the secret itself."""
    return hmac.new(secret.encode(), b"sasl_memcached cache values", _DIGEST).digest()


class ValueCodec:
    def __init__(self, key: bytes, pickle_protocol: int = pickle.HIGHEST_PROTOCOL):
        self._key = key
        self._pickle_protocol = pickle_protocol

    def encode(self, value) -> tuple[int, bytes]:
        """Flags and bytes to store."""
        if isinstance(value, int) and not isinstance(value, bool):
            return INTEGER, str(value).encode()
        flags, payload = SIGNED_PICKLE, pickle.dumps(value, self._pickle_protocol)
        if len(payload) > COMPRESSION_THRESHOLD:
            compressed = zlib.compress(payload, 1)
            if len(compressed) < len(payload):
                flags, payload = flags | COMPRESSED, compressed
        return flags, self._signature(flags, payload) + payload

    def decode(self, stored: bytes, flags: int):
        """The value, or UNTRUSTED."""
        if flags == INTEGER:
            return int(stored) if _NUMBER.fullmatch(stored) else UNTRUSTED
        if flags & ~(SIGNED_PICKLE | COMPRESSED) or not flags & SIGNED_PICKLE:
            return UNTRUSTED
        signature, payload = stored[:_DIGEST_SIZE], stored[_DIGEST_SIZE:]
        if not hmac.compare_digest(signature, self._signature(flags, payload)):
            return UNTRUSTED
        if flags & COMPRESSED:
            inflater = zlib.decompressobj()
            payload = inflater.decompress(payload, MAX_VALUE_BYTES)
            if inflater.unconsumed_tail or not inflater.eof:
                return UNTRUSTED
        return pickle.loads(payload)  # Signed by this app: see the module's docstring.

    def _signature(self, flags: int, payload: bytes) -> bytes:
        # The flags are signed too, so "compressed" cannot be switched on or off.
        return hmac.new(self._key, flags.to_bytes(4, "big") + payload, _DIGEST).digest()
