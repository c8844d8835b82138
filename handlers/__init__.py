"""Capability handlers: plain events in, plain replies out. No XML, no crypto."""
