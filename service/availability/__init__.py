"""Busy times of a staff member from Google's freebusy (`GET /v1/sites/{site_id}/availability`),
with a short sealed cache and a fast path for warm answers.
"""
