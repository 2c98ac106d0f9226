"""Output helpers shared by the ``mqsdk`` subcommands.

Tables and progress go through rich when it is installed (the ``cli`` extra) and stdout
is a terminal; otherwise, and always when a script reads the output, plain text. rich is
imported only when used, so ``import mqsdk`` and scripted runs never pay for it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any


def plain_table(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    """Rows as aligned text columns under upper-case headers."""
    cells = [[str(row.get(col, "")) for col in columns] for row in rows]
    widths = [max([len(col), *(len(r[i]) for r in cells)]) for i, col in enumerate(columns)]
    lines = [
        "  ".join(col.upper().ljust(w) for col, w in zip(columns, widths, strict=True)).rstrip()
    ]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


def rich_console() -> Any | None:
    """A rich Console for stdout if stdout is a terminal and rich is installed, else None."""
    if not sys.stdout.isatty():
        return None
    try:
        from rich.console import Console
    except ImportError:
        return None
    return Console()


def print_table(
    rows: list[dict[str, Any]],
    columns: Sequence[str],
    *,
    title: str | None = None,
    styles: dict[str, str] | None = None,
) -> None:
    """Print rows as a table: rich's on a terminal, plain text otherwise.

    ``styles`` maps a cell's text to a rich style (``{"ok": "green"}``) for coloured cells.
    """
    console = rich_console()
    if console is None:
        if title:
            print(title)
        print(plain_table(rows, columns))
        return
    from rich.table import Table

    table = Table(title=title)
    for col in columns:
        table.add_column(col.upper())
    for row in rows:
        texts = [str(row.get(col, "")) for col in columns]
        table.add_row(*(_styled(t, styles) for t in texts))
    console.print(table)


def _styled(text: str, styles: dict[str, str] | None) -> Any:
    from rich.text import Text

    for prefix, style in (styles or {}).items():
        if text.startswith(prefix):
            return Text(text, style=style)
    return Text(text)


@contextmanager
def progress(description: str, total: int) -> Iterator[Any]:
    """A progress bar on a terminal (``advance(n)``, ``describe(text)``); a no-op otherwise."""
    console = rich_console()
    if console is None:
        yield _NoProgress()
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=total)
        yield _RichProgress(bar, task)


class _NoProgress:
    def advance(self, n: int = 1) -> None:
        pass

    def describe(self, text: str) -> None:
        pass


class _RichProgress:
    def __init__(self, bar: Any, task: Any) -> None:
        self._bar, self._task = bar, task

    def advance(self, n: int = 1) -> None:
        self._bar.advance(self._task, n)

    def describe(self, text: str) -> None:
        self._bar.update(self._task, description=text)
