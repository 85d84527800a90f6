"""Governance's domain: *what do we do about it?* Today the overview dashboard (`queries.py`:
one function per number or series; `views.py`: the landing page and the governance home).

Governance's next domain packages sit beside this one (connectors/, containment/, findings/,
reports/), each with its own models, services, queries and views. A domain package may import
inventory's and audit's services and queries, the shared layer (governance.access) and the
platform (governance.platform); inventory and audit never import a domain package.
"""
