"""faas: a self-hosted, Lambda-compatible functions platform for one VM."""

__version__ = "0.1.0"
