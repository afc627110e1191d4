"""The engine shared by the CLI, HTTP API and notebooks: services adapt the store to geo/."""
