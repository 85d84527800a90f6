"""`{% load registry_history %}{% server_registry_history server %}` on a server's page."""

from django import template

register = template.Library()


@register.inclusion_tag("inventory/_server_registry_history.html")
def server_registry_history(server):
    """A server's versions per registry, their problems, and its registry history."""
    from inventory.views_discovery import server_registry_history_context

    return server_registry_history_context(server)
