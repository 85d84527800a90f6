"""Identity-provider connections and their syncs: the grant ledger's real source (issue 12).

- models.py: `IdpConnection` (kind, non-secret config, the encrypted credential, the issuers it
  answers for as `IdpIssuer` rows) and `IdpSync` (a job on governance.platform.jobs);
- kinds.py: what each kind needs (settings, credential, usual issuer, least-privilege
  permissions for sync and for revocation) and the config check;
- connections.py: the connection services (add, change, rotate the credential, test, disable),
  each recording its admin action;
- sync.py: the sync runner (a connector's identities, clients and grants onto inventory rows
  through inventory's services; vanished grants marked, never deleted);
- queries.py: reads for the pages and the API (ListSpecs of connections and syncs);
- forms.py, views.py, urls.py: the console pages; api.py: the API; tasks.py: Celery.

Calls to the IdP itself go through `governance.connectors` (one module per kind).
"""
