"""The account page: the logged-in user's API tokens (create, list, revoke)."""
