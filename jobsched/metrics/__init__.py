"""Prometheus metrics (SPEC §9): `GET /metrics`, and the scheduler's per-process series.

`/metrics` joins two sources: the queue as the database sees it (metrics/database.py, true
across processes) and this process's scheduler histograms and counters (metrics/process.py,
labelled by node). A `flask run-scheduler` process serves its own series on
`--metrics-port` (metrics/server.py).
"""
