"""Benchmarks of the campaigncall dashboard: run with `python -m bench`, never inside the tests."""
