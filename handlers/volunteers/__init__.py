"""Volunteer service: activities, shifts, sign-up, check-in, hours and points."""
