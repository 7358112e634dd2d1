"""Changes made outside MeetBridge (a staff member moving or deleting the event in Google Calendar or
the meeting in Zoom): Google watch channels and push notifications, and what such a change does."""
