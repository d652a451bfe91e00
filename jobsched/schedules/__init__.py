"""Recurring jobs (SPEC §12): the schedules' pages (`bp`, views.py), their service and JSON."""
