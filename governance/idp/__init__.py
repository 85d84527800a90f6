"""Identity-provider connections and their syncs: the grant ledger's real source (issue 12).

- models.py: `IdpConnection` (kind, non-secret config, the encrypted credential, the issuers it
  answers for as `IdpIssuer` rows) and `IdpSync` (a job on governance.platform.jobs);
- connections.py: the connection services (add, change, rotate the credential, test, disable),
  each recording its admin action;
- sync.py: the sync runner (a connector's identities, clients and grants onto inventory rows
  through inventory's services; vanished grants marked, never deleted);
- views*.py, api.py, urls.py: the console pages and the API; tasks.py: Celery.

Calls to the IdP itself go through `governance.connectors` (one module per kind).
"""
