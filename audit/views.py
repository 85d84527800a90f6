from django.shortcuts import render

from governance.roles import VIEWER, role_required


@role_required(VIEWER)
def explorer(request):
    """The audit explorer (built by the ingestion work)."""
    return render(request, "audit/explorer.html", {})
