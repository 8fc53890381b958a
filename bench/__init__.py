"""Benchmarks (``make bench``). Never imported by the gateway; never installed with it."""
