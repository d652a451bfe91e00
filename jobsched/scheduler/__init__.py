"""The scheduler core: plain Python, no Flask, SQLAlchemy or eventlet.

Time, storage, event delivery and the way work is spawned are passed in, so every rule here
is testable with a fake clock and an in-memory store.
"""
