"""Development tools: local Mosquitto and InfluxDB servers, the demo town and a load generator.

Tests, bench/ and ``stadtpuls demo`` use them; no shipped package imports them (``stadtpuls.cli`` only names
the demo command). The load generator needs paho-mqtt from the ``dev`` extra.
"""
