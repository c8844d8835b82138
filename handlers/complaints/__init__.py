"""Complaints and requests (诉求): intake, routing to the department, the ticket loop."""
