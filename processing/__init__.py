"""Processing: aggregation and anomaly detection over stored measurements."""
