"""Pages for administrators only: the scheduler nodes (SPEC §8 /admin/nodes)."""
