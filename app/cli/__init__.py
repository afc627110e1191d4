"""The ``atlas`` command line (typer)."""
