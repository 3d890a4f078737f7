"""The task list's caching policy, in small modules by job.

The whole of correctness, in two lines (docs/caching.md explains them):

    An entry is served only for the version the database held less than a window ago;
    a write answers a window after its commit.

The version is models.TaskCount's, moved by every write in commit order; the window is
TASKLIST_VERSION_WINDOW (5 ms). Three layers nest like the tutorial's Russian dolls (TASKLIST_CACHE_LAYERS):
``query`` (a page of the list as plain values, with its version), ``fragment`` (each task's row, keyed by
its content) and ``page`` (the whole page with its version, without any visitor's CSRF token; each process
keeps a copy of the pages it served, by version).

The modules:

* ``keys``: names, keys, timeouts: pure functions, no cache I/O;
* ``list_version``: the versions this process trusts, read at most once per window;
* ``read_through``: ``TaskListCache``, a request's reads, each filled under a lease;
* ``local_copies``: rows and pages kept in this process's memory;
* ``invalidation``: what a write does after its commit, per TASKLIST_INVALIDATION, and its wait.
"""
