"""Benchmarks: run as modules (`python -m bench.ingest`); each prints its figures."""
