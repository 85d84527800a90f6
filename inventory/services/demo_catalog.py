"""The fixed cast of the demo deployment: IdPs, names, teams, MCP clients and servers.

Every URL the crawlers could act on (CIMD client_ids, server remotes, registry base URLs) is
under a reserved `.example` domain (RFC 2606): the console's scheduled CIMD and OAuth-metadata
crawls run over demo data too, and must never reach a real host.
"""

IDPS = [
    {"issuer": "https://acme.okta.com/oauth2/default", "style": "okta", "weight": 40},
    {
        "issuer": "https://login.microsoftonline.com/7d3c1b5e-2f4a-4c8e-9a61-5b0e8f2d4c19/v2.0",
        "style": "entra",
        "weight": 25,
    },
    {"issuer": "https://sso.acme.example/realms/engineering", "style": "keycloak", "weight": 15},
    {"issuer": "https://acme-prod.us.auth0.com/", "style": "auth0", "weight": 10},
    {"issuer": "https://accounts.google.com", "style": "google", "weight": 10},
]

FIRST_NAMES = """Ada Alan Amara Anika Ben Bilal Carla Chen Dana Diego Elena Emeka Farah Felix Grace
Hana Hugo Ines Isaac Jana Jonas Kai Kemal Lara Leo Lina Luca Maya Mateo Mei Nadia Noah Omar Olga
Priya Quinn Rafael Rina Sam Sara Sven Tara Theo Uma Victor Wei Yara Yusuf Zoe Zara""".split()
LAST_NAMES = """Abbott Adeyemi Bauer Becker Costa Dubois Eriksen Fischer Garcia Haddad Hansen Ito
Jansen Kaur Kowalski Larsen Lopez Meyer Moreau Nakamura Novak Okafor Olsen Patel Quinto Rossi
Sato Schmidt Silva Singh Tanaka Ueda Vargas Weber Wong Yilmaz Zhang""".split()
TEAMS = [
    "Platform",
    "Security",
    "Data",
    "Sales Ops",
    "Support",
    "Finance",
    "Legal",
    "Growth",
    "Infrastructure",
    "Developer Experience",
]
SERVICE_JOBS = ["ci-deployer", "etl-loader", "backup-runner", "report-builder", "sync-worker"]
AGENT_JOBS = [
    "release-notes-agent",
    "ticket-triage-agent",
    "sales-research-agent",
    "code-review-agent",
    "invoice-agent",
    "oncall-copilot",
    "contract-redliner",
]
REVOKE_REASONS = [
    "Employee offboarded",
    "Suspicious token reuse from a new ASN",
    "Client blocked by security review",
    "Scope reduction requested by owner",
    "Refresh token rotation failure",
    "Incident INC-2291 containment",
]

# The chat apps people consent to (an IdP lists each consent: Entra oauth2PermissionGrants,
# Keycloak consents, Auth0 grants); client_ids of CLIENTS below.
CHAT_APPS = (
    "https://claude.ai.example/oauth/mcp-oauth-client-metadata",
    "https://chat.acme.example/oauth/client.json",
)

CLIENTS = [
    {
        "client_id": "https://claude.ai.example/oauth/mcp-oauth-client-metadata",
        "name": "Claude",
        "registration": "cimd",
        "version": "1.0.112",
    },
    {
        "client_id": "https://vscode.dev.example/oauth/client-metadata.json",
        "name": "Visual Studio Code",
        "registration": "cimd",
        "version": "1.106.0",
    },
    {
        "client_id": "https://cursor.example/.well-known/oauth-client/mcp.json",
        "name": "Cursor",
        "registration": "cimd",
        "version": "2.1.4",
    },
    {
        "client_id": "https://zed.example/mcp/client-metadata.json",
        "name": "Zed",
        "registration": "cimd",
        "version": "0.210.3",
    },
    {
        "client_id": "https://chat.acme.example/oauth/client.json",
        "name": "ACME Chat",
        "registration": "cimd",
        "version": "3.2.0",
    },
    {
        "client_id": "https://agents.acme.example/release-notes/client.json",
        "name": "Release notes agent",
        "registration": "cimd",
        "version": "0.9.1",
    },
    {
        "client_id": "https://copilot.partner.example/mcp/client.json",
        "name": "Partner Copilot",
        "registration": "cimd",
        "version": "5.0.0",
    },
    {
        "client_id": "https://raycast.example/oauth/mcp-client.json",
        "name": "Raycast",
        "registration": "cimd",
        "version": "1.99.0",
    },
    {
        "client_id": "https://goose.example/oauth/client-metadata.json",
        "name": "Goose",
        "registration": "cimd",
        "version": "1.12.0",
    },
    {
        "client_id": "https://notes-ai.example/mcp.json",
        "name": "NotesAI (unvetted)",
        "registration": "cimd",
        "version": "0.3.0",
    },
    {
        "client_id": "0oa8f2k1x9QdLr7Tz5d7",
        "name": "Internal support console",
        "registration": "pre_registered",
    },
    {
        "client_id": "0oa8f2k1x9QdLr7Tz6e1",
        "name": "Sales research assistant",
        "registration": "pre_registered",
    },
    {
        "client_id": "0oa9a11bcdEfGh2345i8",
        "name": "Finance close bot",
        "registration": "pre_registered",
    },
    {
        "client_id": "6f1c9d2e-4b7a-4e1f-8c3d-2a9b5e7f1d40",
        "name": "Entra: Legal review agent",
        "registration": "pre_registered",
    },
    {
        "client_id": "b3e8d1a4-9c2f-47e6-a5d0-1f8c3b7e9a62",
        "name": "Entra: HR helpdesk agent",
        "registration": "pre_registered",
    },
    {
        "client_id": "kc-eng-ide-bridge",
        "name": "Engineering IDE bridge",
        "registration": "pre_registered",
    },
    {"client_id": "kc-grafana-mcp", "name": "Grafana assistant", "registration": "pre_registered"},
    {"client_id": "dcr-2f9a6c1e8b", "name": "Inspector (dynamic)", "registration": "dcr"},
    {"client_id": "dcr-7c3e1b9d05", "name": "Local dev agent (dynamic)", "registration": "dcr"},
    {"client_id": "dcr-a81f44c2e7", "name": "Unknown desktop app (dynamic)", "registration": "dcr"},
    {"client_id": "dcr-c09b7e3a11", "name": "Hackathon bot (dynamic)", "registration": "dcr"},
    {"client_id": "dcr-e5d2a8f6b3", "name": "Browser extension (dynamic)", "registration": "dcr"},
    {"client_id": "svc-ci-deployer", "name": "CI deployer", "registration": "client_credentials"},
    {
        "client_id": "svc-etl-loader",
        "name": "Warehouse ETL loader",
        "registration": "client_credentials",
    },
    {
        "client_id": "svc-backup-runner",
        "name": "Backup runner",
        "registration": "client_credentials",
    },
    {
        "client_id": "svc-report-builder",
        "name": "Weekly report builder",
        "registration": "client_credentials",
    },
    {"client_id": "svc-crm-sync", "name": "CRM sync", "registration": "client_credentials"},
    {
        "client_id": "spiffe://acme.example/ns/agents/sa/triage",
        "name": "Triage agent (workload)",
        "registration": "workload",
    },
    {
        "client_id": "spiffe://acme.example/ns/agents/sa/oncall",
        "name": "On-call copilot (workload)",
        "registration": "workload",
    },
    {
        "client_id": "spiffe://acme.example/ns/data/sa/pipeline",
        "name": "Data pipeline (workload)",
        "registration": "workload",
    },
]


def _server(name, title, description, tools, versions=("1.0.0",), remotes=None, **extra):
    short = name.split("/")[-1]
    return {
        "name": name,
        "title": title,
        "description": description,
        "tools": tools,
        "versions": list(versions),
        "remotes": remotes if remotes is not None else [f"https://mcp.acme.example/{short}/mcp"],
        **extra,
    }


SERVERS = [
    _server(
        "io.github.acme/crm",
        "ACME CRM",
        "Accounts, contacts and opportunities.",
        ["search_accounts", "get_account", "update_opportunity", "export_pipeline"],
        ("1.2.0", "1.3.0", "1.4.1"),
        task_tools=("export_pipeline",),
    ),
    _server(
        "io.github.acme/billing",
        "Billing",
        "Invoices, refunds and payment status.",
        ["list_invoices", "issue_refund", "get_payment_status"],
        ("0.9.0", "1.0.0"),
    ),
    _server(
        "io.github.acme/hr-directory",
        "HR directory",
        "People, teams and org chart.",
        ["find_person", "get_org_chart", "get_manager"],
    ),
    _server(
        "io.github.acme/warehouse",
        "Data warehouse",
        "Read-only SQL over the warehouse.",
        ["run_query", "list_tables", "describe_table", "export_report"],
        ("2.0.0", "2.1.0"),
        task_tools=("run_query", "export_report"),
    ),
    _server(
        "io.github.acme/tickets",
        "Ticketing",
        "Support tickets and SLAs.",
        ["search_tickets", "create_ticket", "close ticket", "add_comment"],
        ("3.0.0", "3.1.0", "3.2.0"),
    ),
    _server(
        "io.github.acme/deploy",
        "Deployments",
        "Release trains, rollbacks, feature flags.",
        ["list_releases", "start_rollout", "rollback", "set_flag"],
        ("1.0.0", "1.1.0"),
        task_tools=("start_rollout", "rollback"),
    ),
    _server(
        "io.github.acme/secrets",
        "Secrets broker",
        "Short-lived credentials for agents.",
        ["request_credential", "list_leases", "revoke_lease"],
        ("0.4.0",),
    ),
    _server(
        "io.github.acme/docs",
        "Docs search",
        "Internal handbook and runbooks.",
        ["search_docs", "get_page", "search/recent"],
        ("1.0.0", "1.0.3"),
    ),
    _server(
        "io.github.acme/legal-contracts",
        "Contracts",
        "Contract repository and clauses.",
        ["find_contract", "extract_clauses", "compare_versions"],
        ("0.2.0", "0.3.0"),
        task_tools=("compare_versions",),
    ),
    _server(
        "io.github.acme/finance-close",
        "Finance close",
        "Month-end close checklist.",
        ["list_close_tasks", "reconcile_account", "post_journal_entry"],
        task_tools=("reconcile_account",),
    ),
    _server(
        "io.github.acme/observability",
        "Observability",
        "Metrics, logs and traces.",
        ["query_metrics", "search_logs", "get_trace", "list_alerts"],
        ("4.0.0", "4.2.0"),
    ),
    _server(
        "io.github.acme/oncall",
        "On-call",
        "Pages, schedules and incidents.",
        ["who_is_oncall", "page_team", "create_incident", "résumé_incident"],
    ),
    _server(
        "io.github.acme/calendar",
        "Calendar",
        "Meetings and room booking.",
        ["find_slot", "book_meeting", "cancel_meeting"],
        ("1.0.0", "1.1.0"),
    ),
    _server(
        "io.github.acme/feature-store",
        "Feature store",
        "ML features and datasets.",
        ["get_features", "list_datasets"],
        ("0.1.0",),
        status="deprecated",
    ),
    _server(
        "io.github.acme/legacy-wiki",
        "Legacy wiki",
        "The old wiki, kept read-only.",
        ["search_wiki", "get_wiki_page"],
        ("0.5.0",),
        status="deleted",
        remotes=["https://wiki-mcp.acme.example/sse"],
    ),
    _server(
        "io.github.modelcontextprotocol/filesystem",
        "Filesystem",
        "Reference server: read and write files under allowed roots.",
        ["read_text_file", "write_file", "list_directory", "search_files", "move_file"],
        ("2025.9.25", "2025.11.25"),
        remotes=[],
    ),
    _server(
        "io.github.modelcontextprotocol/fetch",
        "Fetch",
        "Reference server: fetch a URL.",
        ["fetch"],
        ("2025.11.25",),
        remotes=[],
    ),
    _server(
        "io.github.github/github-mcp-server",
        "GitHub",
        "Repositories, issues, pull requests and Actions.",
        [
            "search_repositories",
            "get_issue",
            "create_pull_request",
            "merge_pull_request",
            "list_workflow_runs",
        ],
        ("0.20.0", "0.21.0", "0.22.1"),
        # The hosted server's endpoints: read-only, every toolset, the repos toolset alone.
        remotes=[
            "https://api.githubcopilot.example/mcp/readonly",
            "https://api.githubcopilot.example/mcp/",
            "https://api.githubcopilot.example/mcp/x/repos",
        ],
    ),
    _server(
        "io.github.upstash/context7",
        "Context7",
        "Up-to-date library documentation.",
        ["resolve-library-id", "get-library-docs"],
        ("1.0.20", "1.0.26"),
        remotes=["https://mcp.context7.example/mcp"],
    ),
    _server(
        "io.github.microsoft/playwright-mcp",
        "Playwright",
        "Drive a browser.",
        ["browser_navigate", "browser_click", "browser_snapshot", "browser_take_screenshot"],
        ("0.0.40", "0.0.45"),
        remotes=[],
    ),
    _server(
        "com.acme.mcp/payments-gateway",
        "Payments gateway",
        "Card and SEPA payment ops.",
        ["authorize_payment", "capture_payment", "refund_payment"],
        ("2.3.0", "2.4.0"),
    ),
    _server(
        "com.acme.mcp/identity-admin",
        "Identity admin",
        "Okta user and group admin.",
        ["find_user", "add_to_group", "reset_mfa", "suspend_user"],
        ("1.0.0",),
    ),
    _server(
        "com.acme.mcp/vendor-risk",
        "Vendor risk",
        "Third-party risk questionnaires.",
        ["list_vendors", "get_assessment", "score vendor"],
        ("0.8.0",),
    ),
    _server(
        "com.acme.mcp/marketing-analytics",
        "Marketing analytics",
        "Campaign performance.",
        ["campaign_stats", "attribution_report"],
        ("1.5.0", "1.6.0"),
        task_tools=("attribution_report",),
    ),
    _server(
        "mcp.acme-runtime.example",
        "",
        "Seen at runtime only (not in a registry).",
        ["do_thing", "do_other_thing"],
        (),
        status="unlisted",
        remotes=["https://mcp.acme-runtime.example/mcp"],
    ),
]
