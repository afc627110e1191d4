"""The application around the pure core: settings, store, ingest, access, HTTP, web pages, CLI."""
