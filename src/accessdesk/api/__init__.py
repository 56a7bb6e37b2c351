"""The JSON API (``/api/v1``): thin adapters from HTTP to the domain services."""
