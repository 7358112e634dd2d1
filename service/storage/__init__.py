"""Redis: the shared connection, group commit for hot paths, every key MeetBridge writes, and the
queue names and job options.
"""
