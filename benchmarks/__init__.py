"""Benchmarks: speed goals as ratios against baselines measured in the same run (``python -m benchmarks``)."""
