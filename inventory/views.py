from django.shortcuts import render

from governance.roles import VIEWER, role_required
from inventory.models import Identity


@role_required(VIEWER)
def identity_list(request):
    return render(request, "inventory/identity_list.html",
                  {"identities": Identity.objects.all()[:50]})
