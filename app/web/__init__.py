"""Web pages served by the service itself (no CDN: partner intranets often have no internet)."""
