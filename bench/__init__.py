"""Benchmarks: each module's main() prints its timings and their ratio to a bare-SQL floor."""
