"""Linked Google and Zoom accounts: the token vault, fresh tokens for jobs (refresh under a lock),
the OAuth client settings, unlinking (revoke at the provider, then forget), and the accounts API.
"""
