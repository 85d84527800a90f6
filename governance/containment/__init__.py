"""Containment: cutting an agent's access off through the IdPs' own APIs, and proving it took.

- models.py: `Revocation` (a job, `governance.platform.jobs`) and its ordered `RevocationStep`s
  (one per IdP call, task action or verification, each with state, attempts, next retry and a
  summary of request and answer, never a secret).
- plan.py: what an action would touch (the dry run the confirm page shows) and its steps.
- services.py: starting a revocation (recorded: admin action and an audit-chain event), undo.
- runner.py: the job runner: executes the steps in order, retries, verifies.
"""
