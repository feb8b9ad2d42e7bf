"""Benchmarks: a load generator and the scenarios of `make bench` (see docs/bench.md)."""
