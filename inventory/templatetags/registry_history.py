"""`{% load registry_history %}{% server_registry_history server %}` on a server's page."""

from django import template

from inventory import queries_discovery

register = template.Library()


@register.inclusion_tag("inventory/_server_registry_history.html")
def server_registry_history(server):
    """A server's versions per registry, their problems, and its registry history."""
    return queries_discovery.server_registry_history(server)
