"""jobsched's benchmarks: `make bench` (full, writes docs/benchmarks.md), `make bench-smoke`."""
