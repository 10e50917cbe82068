"""The console entry wrapper every CLI uses, defined once.

A :class:`~txn_contract.errors.TxnError` becomes one sentence on stderr,
``<prog>: error: <message>``, and its ``exit_code``; Ctrl-C before a command handles it becomes
``<prog>: interrupted`` and exit 130; click's own usage errors keep click's wording and exit 2.
Never a traceback for what a user can cause.

Example::

    main = entry_point(cli, "txn-report")   # [project.scripts] txn-report = "txn_report.cli:main"
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

import click

from txn_contract.errors import TxnError

__all__ = ["EXIT_INTERRUPTED", "entry_point", "run", "stderr_logger"]

EXIT_INTERRUPTED = 130


def run(cli: click.Command, prog: str, argv: Sequence[str] | None = None) -> int:
    """Run ``cli`` as ``prog`` and return its exit code (sentences on stderr, no traceback)."""
    try:
        result = cli.main(args=list(argv) if argv is not None else None, prog_name=prog,
                          standalone_mode=False)  # fmt: skip
    except TxnError as exc:
        click.echo(f"{prog}: error: {exc}", err=True)
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (click.Abort, KeyboardInterrupt):
        click.echo(f"{prog}: interrupted", err=True)
        return EXIT_INTERRUPTED
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        click.echo(str(exc.code), err=True)
        return 1
    # standalone_mode=False returns the exit code of ctx.exit() (--help: 0) or the result.
    return result if isinstance(result, int) else 0


def entry_point(cli: click.Command, prog: str) -> Callable[..., None]:
    """The ``main`` of a console script: :func:`run`, then exit with its code."""

    def main(argv: Sequence[str] | None = None) -> None:
        sys.exit(run(cli, prog, argv))

    main.__doc__ = (
        f"Console entry point of ``{prog}``: user errors are one sentence and an exit code."
    )
    return main


def stderr_logger(prog: str) -> Callable[[str], None]:
    """``log("...")`` writes ``[prog] ...`` on stderr, the progress lines of every service."""

    def log(message: str) -> None:
        click.echo(f"[{prog}] {message}", err=True)

    return log
