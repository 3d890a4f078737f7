"""The newest version of the list this instance has shown, so that no page it shows goes back in time.

A write is in flight from its commit until the cache has it (caching/invalidation.py).
Meanwhile one thread may read the list from the database (it skips a server during
its back-off, or holds a change pending) and show the write, while another still
finds the entry from before it. A visitor would see a task appear, then vanish, then
appear again. So every first page shown raises this floor, and an entry older than
it is stale for certain (versions follow commit order: models.TaskCount): a read that
finds one waits briefly for the write in flight to store the newer entry, and failing
that reads the database (caching/read_through.py).

The floor is shared by the worker processes of a gunicorn instance: a file mapped
into memory, made when this module is imported in the master (gunicorn.conf.py
imports it), which the workers inherit when it forks them. A process started
otherwise (the development server, a shell) has its own. Raising it takes a lock on
the file, which the kernel releases if a worker dies holding it.

The database can go back too: a restored backup, tests that roll back. A read from
the database that began after the floor was last raised and found an older version
proves it (such a read sees every commit an earlier read saw), and the floor
follows it down.
"""

import fcntl
import mmap
import os
import struct
import tempfile
import threading
import time

# The version, and when it was raised: time.monotonic(), one clock for every process of a machine.
_LAYOUT = struct.Struct("qd")


class NewestShown:
    def __init__(self):
        self._file = tempfile.TemporaryFile(prefix="tasklist-newest-shown-")
        self._file.truncate(_LAYOUT.size)
        self._memory = mmap.mmap(self._file.fileno(), _LAYOUT.size)  # shared with forked children
        self._threads = threading.Lock()
        os.register_at_fork(after_in_child=self._after_fork)

    @property
    def version(self) -> int:
        return _LAYOUT.unpack_from(self._memory)[0]

    def is_newer_than(self, version: int | None) -> bool:
        """Whether this instance has shown a newer list than ``version`` (None: an entry without one)."""
        return version is not None and version < self.version

    def shown(self, version: int | None, *, read_from_database_at: float | None = None) -> None:
        """A first page of ``version`` is being shown; ``read_from_database_at``: when its read from
        the database began (time.monotonic()), if it was read there."""
        if version is None or not self._moves(version, read_from_database_at):
            return  # Nearly always: then this costs one read of shared memory, no lock.
        with self._locked():
            if self._moves(version, read_from_database_at):
                _LAYOUT.pack_into(self._memory, 0, version, time.monotonic())

    def forget(self) -> None:
        with self._locked():
            _LAYOUT.pack_into(self._memory, 0, 0, 0.0)

    def _moves(self, version: int, read_from_database_at: float | None) -> bool:
        newest, raised_at = _LAYOUT.unpack_from(self._memory)
        if version > newest:
            return True
        # The database went back: nothing else makes a read that began after another ended see less.
        return version < newest and read_from_database_at is not None and read_from_database_at > raised_at

    def _locked(self):
        return _FileLock(self._threads, self._file)

    def _after_fork(self) -> None:
        self._threads = threading.Lock()  # a thread of the parent may have held it when it forked


class _FileLock:
    """This process's threads one at a time, then the processes sharing the file one at a time."""

    def __init__(self, threads: threading.Lock, file):
        self._threads, self._file = threads, file

    def __enter__(self):
        self._threads.acquire()
        fcntl.lockf(self._file, fcntl.LOCK_EX)

    def __exit__(self, *exc):
        fcntl.lockf(self._file, fcntl.LOCK_UN)
        self._threads.release()


# One per gunicorn instance (see above).
newest_shown = NewestShown()
