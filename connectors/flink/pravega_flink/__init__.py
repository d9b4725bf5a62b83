"""PyFlink connector for Pravega streams (PravegaSource / PravegaSink)."""
