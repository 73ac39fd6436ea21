"""The benchmark suite behind ``make bench``: every figure against a baseline measured in the same run.

Run it as ``python -m bench.run`` from the repository root (``make bench`` does). Each section lives in
its own module and returns table rows; ``bench/run.py`` runs them one after another, never two load
tests at once, and prints one table. Nothing here asserts a timing: the suite reports, people judge.
"""
