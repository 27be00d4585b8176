"""The `accord` command line (`accord = "api.cli:main"`): the root in `api.cli.app`, one module
per command group beside it, what they share in `api.cli.common`."""

from api.cli.app import app, main

__all__ = ["app", "main"]
