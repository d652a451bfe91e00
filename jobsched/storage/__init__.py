"""The SQL side of the scheduler core's interfaces: the store, the claim, lease-fenced
writes, the queue order in SQL, the listener, kept counts and retention. No blueprint, no
forms, no Socket.IO."""
