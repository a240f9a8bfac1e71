"""Tests for the Python worker runtime (run: python3 -m unittest discover -s python/tests -t python)."""
