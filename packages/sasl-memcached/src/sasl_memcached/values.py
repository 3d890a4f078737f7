"""What goes into memcached and what may come out: only values this process's app wrote.

python-binary-memcached unpickles any value whose flags say "object", so anyone
who can write to the cache — its credentials, another app sharing it, anyone on
the network path of SASL PLAIN — could run code in every worker with one
planted value. Here every value but an integer is pickled and then signed with
keyed BLAKE2b under a key derived from Django's SECRET_KEY; a value is
unpickled only after its signature checks. Integers stay memcached's plain
decimal numbers, which ``incr`` and ``decr`` need, and are parsed strictly.
Anything else read back — unsigned, signed with another key, a number too long
to be one — is ``UNTRUSTED``, which the backend treats as a miss and logs once.
Compression (Zstandard) happens after pickling and is undone only for signed
values, and then only up to ``MAX_VALUE_BYTES``.

Why BLAKE2b and Zstandard (measured in compare/results.md): keyed BLAKE2b is a
MAC by design, in CPython's own C, and costs a small value a third of what
OpenSSL's HMAC-SHA256 does; Zstandard at level 1 compresses a page smaller than
zlib and inflates it three times faster, which is most of a page-sized get.
"""

import enum
import hashlib
import hmac
import pickle
import re
import threading

import zstandard

# Flag bits: bmemcached's own "integer", and ours, in bits it does not use.
INTEGER = 1 << 1
SIGNED_PICKLE = 1 << 10
COMPRESSED = 1 << 11
# What 2.0 and earlier wrote (HMAC-SHA256, zlib): read as a miss, never warned about, after an upgrade.
EARLIER_FORMATS = (1 << 8) | (1 << 9)

COMPRESSION_THRESHOLD = 1024
COMPRESSION_LEVEL = 1
# memcached stores at most 1 MB per item; nothing this app writes inflates beyond this.
MAX_VALUE_BYTES = 16 * 1024 * 1024
SIGNATURE_SIZE = 32
# memcached's counters are unsigned 64-bit; Django may store a negative int with set(). A decr
# that shortens the number leaves trailing spaces in its place.
_NUMBER = re.compile(rb"-?[0-9]{1,20} {0,20}")


class Unreadable(enum.Enum):
    UNTRUSTED = "a value this app did not write"
    EARLIER_FORMAT = "a value an earlier release of this package wrote"


UNTRUSTED = Unreadable.UNTRUSTED


def signing_key(secret: str) -> bytes:
    """The key values are signed with: derived from the secret, never the secret itself."""
    return hmac.digest(secret.encode(), b"sasl_memcached cache values", "sha256")


class _Zstandard(threading.local):
    """A compressor and a decompressor per thread: zstandard's contexts are not shared between threads."""

    def __init__(self):
        self.compressor = zstandard.ZstdCompressor(level=COMPRESSION_LEVEL)
        self.decompressor = zstandard.ZstdDecompressor()


class ValueCodec:
    def __init__(self, key: bytes, pickle_protocol: int = pickle.HIGHEST_PROTOCOL):
        self._signer = hashlib.blake2b(key=key, digest_size=SIGNATURE_SIZE)
        self._pickle_protocol = pickle_protocol
        self._zstandard = _Zstandard()

    def encode(self, value) -> tuple[int, bytes]:
        """Flags and bytes to store."""
        if isinstance(value, int) and not isinstance(value, bool):
            return INTEGER, str(value).encode()
        flags, payload = SIGNED_PICKLE, pickle.dumps(value, self._pickle_protocol)
        if len(payload) > COMPRESSION_THRESHOLD:
            compressed = self._zstandard.compressor.compress(payload)
            if len(compressed) < len(payload):
                flags, payload = flags | COMPRESSED, compressed
        return flags, self._signature(flags, payload) + payload

    def decode(self, stored: bytes, flags: int):
        """The value, or an ``Unreadable``."""
        if flags == INTEGER:
            return int(stored) if _NUMBER.fullmatch(stored) else UNTRUSTED
        if flags & ~(SIGNED_PICKLE | COMPRESSED) or not flags & SIGNED_PICKLE:
            return Unreadable.EARLIER_FORMAT if flags and not flags & ~EARLIER_FORMATS else UNTRUSTED
        with memoryview(stored) as view:  # a page-sized value is read in place, not copied
            signature, payload = view[:SIGNATURE_SIZE], view[SIGNATURE_SIZE:]
            if not hmac.compare_digest(signature, self._signature(flags, payload)):
                return UNTRUSTED
            if flags & COMPRESSED:
                # Signed by this app, and still bounded: the frame states its size, and zstandard
                # inflates into exactly that much or fails.
                try:
                    if not 0 <= zstandard.frame_content_size(payload) <= MAX_VALUE_BYTES:
                        return UNTRUSTED
                    payload = self._zstandard.decompressor.decompress(payload)
                except zstandard.ZstdError:
                    return UNTRUSTED
            return pickle.loads(payload)  # Signed by this app: see the module's docstring.

    def _signature(self, flags: int, payload) -> bytes:
        # The flags are signed too, so "compressed" cannot be switched on or off.
        signer = self._signer.copy()
        signer.update(flags.to_bytes(4, "big"))
        signer.update(payload)
        return signer.digest()
