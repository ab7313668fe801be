"""Benchmarks: ``python -m bench.<name>`` prints a table, then its figures as one JSON line."""
