"""Plugin modules used by the plugin and hook tests."""
