"""The HTTP API (FastAPI): handlers parse, authorise, call the engine, render."""
