"""A self-contained, durable Pravega-compatible server (controller + segment store)."""

__version__ = "0.1.0"
