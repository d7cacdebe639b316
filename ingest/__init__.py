"""Ingest: MQTT uplinks in → envelopes → codecs → canonical measurements → InfluxDB."""
