"""A progress bar on the terminal for long ingests (stderr; silent when not a TTY)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from app.cli.common import err_console


@contextmanager
def progress_reporter(enabled: bool) -> Iterator[Callable[[str, int, int], None]]:
    """A callback ``(stage, done, total)`` drawn as a live bar when enabled."""
    if not enabled:
        yield lambda _stage, _done, _total: None
        return
    columns = (
        TextColumn("{task.description:<40}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task("starting", total=None)

        def report(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage[:40], completed=done, total=total)

        yield report
