"""Ingest: read partner files as delivered, clean them centrally, account for every row."""
