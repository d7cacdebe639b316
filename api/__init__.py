"""The query API (FastAPI): devices, their latest values, and the platform's health."""
