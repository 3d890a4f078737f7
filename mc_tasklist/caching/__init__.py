"""The task list's caching policy, in small modules by job.

Three layers nest like the tutorial's Russian dolls; each can be switched off
with TASKLIST_CACHE_LAYERS:

* ``query``: one page of the task list as plain values;
* ``fragment``: each task's rendered row, under a key made from the task's
  content, so a changed task or a reused id can never show an old row;
* ``page``: the whole page, rendered without any visitor's CSRF token
  (see mc_tasklist/rendering.py), so one entry serves every visitor.

When the page entry is gone, the page is rebuilt from the cached query and
fragments. TASKLIST_INVALIDATION picks how writes keep ``query`` and ``page``
fresh (fragments never need it):

* ``expire``: nothing; entries live TASKLIST_CACHE_TTL seconds, so a change
  shows up at the latest that long after it was made;
* ``delete``: a write deletes the entries after it commits;
* ``version``: a write increments a generation number that is part of every
  key, so old entries are never read again and age out;
* ``update`` (the default): a write stores the first page's list and page
  anew, replacing only older ones (they carry the list's version).

Correctness across processes rests on two rules. Invalidation runs after the
database commit. And an entry is filled under a lease (a placeholder added
with memcached's ``add``, replaced with ``cas``): a write that deletes the
entry while a reader is still querying the database voids that reader's lease,
so the reader's list, possibly older than the write, is never stored.

* ``keys``: names, keys, timeouts: pure functions, no cache I/O;
* ``read_through``: ``TaskListCache``, a request's reads, each filled under a lease, and the
  first page stored anew after a write (``update``);
* ``recent_rows``: the rows this process has seen, kept in memory by their content's key;
* ``invalidation``: what each kind of write does, recorded with the write (an
  outbox) and applied after the commit;
* ``channel``: what the processes tell each other about changes (PostgreSQL's
  LISTEN/NOTIFY): committed, confirmed, handed over, held;
* ``pending``: what this process could not get confirmed; while anything is
  pending it reads no list or page from the cache;
* ``newest_shown``: the newest list this instance has shown; an entry older
  than it is read from the database instead, so no page goes back in time;
* ``watcher``: applies the changes another process could not get confirmed.
"""
