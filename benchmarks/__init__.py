"""Speed comparisons a user can rerun: `python -m benchmarks` (what `make bench` runs)."""
