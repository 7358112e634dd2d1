"""Booking events from WordPress: the event schema, the one-round-trip intake, the events route and its
fast path, the status route, a booking record's sealing contexts and public view, and deleting a
booking's Zoom meeting (shared by cleanup and erasure).
"""
