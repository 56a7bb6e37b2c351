"""Benchmarks: each prints ratios measured within one run, so the speed of the machine cancels out.

Run one with ``.venv/bin/python -m bench.<name>``; see bench/README.md.
"""
