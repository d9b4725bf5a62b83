"""Pravega reimplementation: client, wire protocol and server pieces."""
