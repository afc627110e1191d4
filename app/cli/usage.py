"""Where the command-line parser's usage errors live: typer >= 0.22 carries its own copy of
click (``typer._click``); earlier releases use click itself."""

from __future__ import annotations

from types import ModuleType


def _errors() -> ModuleType:
    try:
        from typer._click import exceptions  # noqa: PLC0415
    except ImportError:  # pragma: no cover - older typer
        from click import exceptions  # type: ignore[no-redef]  # noqa: PLC0415
    return exceptions


click_errors = _errors()
