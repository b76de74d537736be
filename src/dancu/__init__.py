"""dancu: population data, identity and digital public services (Project 06, open)."""

__version__ = "0.1.0"
