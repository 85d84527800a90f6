"""Read-only REST API for the inventory (registered on the one router in governance/urls.py)."""


def register(router) -> None:
    """Add this app's viewsets to the project router."""
    from inventory import api_discovery_fetch, api_registry

    api_registry.register(router)
    api_discovery_fetch.register(router)
