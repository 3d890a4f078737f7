"""What the lease extension stores and returns; shared by both backends.

A lease lets a process fill a missing key only if nobody deleted or replaced
the key while the value was being computed (see ``sasl_memcached``).
"""

import enum

# Stored in place of a value while one process computes it. A reader sees a miss.
LEASE_MARKER = b"\x00sasl_memcached:lease\x00"


class Unavailable(enum.Enum):
    """The package's one sentinel: the cache could not be asked.

    An enum member, not ``None`` or a string: it survives pickling and
    ``copy`` as the same object, so ``is`` comparisons always hold, and it
    prints as what it means.
    """

    CACHE = "cache unavailable"


# What lease() returns when the server cannot be reached: nobody will fill the
# entry, so nobody should wait for it.
CACHE_UNAVAILABLE = Unavailable.CACHE
