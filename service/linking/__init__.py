"""Linking a staff member's Google or Zoom account: signed connect links, the connect screens, and the
OAuth callbacks that put the tokens into the vault.
"""
