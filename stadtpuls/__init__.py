"""Stadtpuls: shared core (settings, canonical schema, InfluxDB client, CLI)."""

__version__ = "0.1.0"
