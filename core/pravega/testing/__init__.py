"""Test helpers: run a server process for tests and benchmarks."""

from .process import ServerProcess

__all__ = ["ServerProcess"]
