"""The tutorial's own approach, as its text describes it, for the benchmark only: never deployed.

A `cache_page` view whose key each process learns into a global, CSRF off, the
whole list on one page. Compare with mc_tasklist to see what this project buys.
"""
