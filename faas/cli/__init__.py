"""The ``faas`` command: its entry point and argument parser.

    faas serve | invoke | logs | status | keys | bill | schedules | dlq | deps | layers     (``faas COMMAND --help``)

Each command group is a module of this package with ``register(sub, common)``, which adds its
subparser and sets ``run(config, args)``; ``serve`` is the composition root. What the commands share
(``CliError``, the exit codes, the admin API call, the store, tables) is in ``_common``.

Errors become exit codes here: 2 for bad usage or config, 1 for a failed operation or a function
error, 3 when the server cannot be reached.
"""

from __future__ import annotations

import argparse
import sys

from faas.cli import bill, deps, dlq, invoke, keys, layers, logs, schedules, serve, status
from faas.cli._common import EXIT_FAILED, EXIT_USAGE, CliError
from faas.config import load_config
from faas.exceptions import ConfigError, FaaSError

__all__ = ["entry", "main"]

# In the order ``faas --help`` lists them.
_COMMANDS = (serve, invoke, logs, status, keys, bill, schedules, dlq, deps, layers)


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default="config.toml", help="path to config.toml (default: ./config.toml)")

    parser = argparse.ArgumentParser(prog="faas", description="A Lambda-compatible functions platform for one VM.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in _COMMANDS:
        command.register(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one ``faas`` command; returns its exit code."""
    args = _parser().parse_args(argv)
    try:
        config = load_config(args.config)
        return int(args.run(config, args))
    except ConfigError as exc:
        print(f"faas: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CliError as exc:
        print(f"faas: {exc}", file=sys.stderr)
        return exc.code
    except FaaSError as exc:
        print(f"faas: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


def entry() -> None:
    """The ``faas`` console script (and ``python -m faas``)."""
    sys.exit(main())
