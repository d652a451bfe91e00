"""The REST API (SPEC §6) on flask-restx, mounted at /jobs/api: `bp` and `api` in views.py,
one Namespace per module (jobs, tasks, tokens), models in schemas.py."""
