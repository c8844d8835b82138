"""Typed settings and the data community workers edit (menu, later taxonomies)."""

from config.settings import AccountSettings, Settings, load_settings

__all__ = ["AccountSettings", "Settings", "load_settings"]
