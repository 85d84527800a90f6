"""What the finding rules of the ingest path cost: `bench/ingest.py --rules-on-off`.

Two production web servers on the same database, one with FINDINGS_EVENT_RULES on, one with it
off (off, ingest does what it did before findings: no Tool rows from events, no client rollup,
no rules), take the same kind of traffic in alternation (on, off, off, on, ...: drift on a shared
machine hits both alike): (b) 1,000 events per request over 4 clients and (c4) one event per
request over 4 clients. So that the rules do their work, the inventory has 2 of the 50 clients
and 1 of the 20 servers blocked and 1 server deleted in its registry (about 14% of the events
are such calls), and 0.2% of the events call a tool nobody saw before, 0.1% one with a name
outside the MCP rules. Prints medians and on ÷ off (docs/performance.md).
"""

from __future__ import annotations

import statistics

from cputime import CpuMeter, process_tree

BLOCKED_CLIENTS = ("https://client0.example.com/cimd.json", "https://client1.example.com/cimd.json")
BLOCKED_SERVER = "io.github.org0/server"
DELETED_SERVER = "io.github.org1/server"


def add_new_tools(events: list[dict], *, seed: int) -> list[dict]:
    """The events with 0.2% of them calling a new tool and 0.1% a badly named one (in place)."""
    import random

    rnd = random.Random(seed)
    for i, event in enumerate(events):
        roll = rnd.random()
        if roll < 0.002:
            event["tool"] = f"new_tool_{seed}_{i}"
        elif roll < 0.003:
            event["tool"] = f"bad tool {seed} {i}"
    return events


def mark_inventory(connect) -> None:
    """Block and delete what the traffic calls (the clients and servers exist after warm-up)."""
    with connect() as conn:
        conn.execute(
            "UPDATE inventory_client SET review_status = 'blocked' WHERE client_id = ANY(%s)",
            [list(BLOCKED_CLIENTS)],
        )
        conn.execute(
            "UPDATE inventory_server SET review_status = 'blocked' WHERE name = %s",
            [BLOCKED_SERVER],
        )
        conn.execute(
            "UPDATE inventory_server SET registry_status = 'deleted' WHERE name = %s",
            [DELETED_SERVER],
        )
        conn.commit()
        blocked = conn.execute(
            "SELECT (SELECT count(*) FROM inventory_client WHERE review_status = 'blocked'), "
            "(SELECT count(*) FROM inventory_server WHERE review_status = 'blocked'), "
            "(SELECT count(*) FROM inventory_server WHERE registry_status = 'deleted')"
        ).fetchone()
    print(
        f"inventory: blocked clients {blocked[0]}, blocked servers {blocked[1]}, "
        f"deleted servers {blocked[2]}"
    )


def _own(used: dict[str, float]) -> float:
    """CPU per event of the web server and PostgreSQL (not the machine's, others included)."""
    return used["web"] + used["postgres"]


def findings_count(connect) -> dict[str, int]:
    with connect() as conn:
        rows = conn.execute("SELECT kind, count(*) FROM inventory_finding GROUP BY kind").fetchall()
    return dict(rows)


def on_off(*, make_events, start_server, post_all, token, args, connect, postgres) -> None:
    """Run (b) and (c4) against the rules-on and -off servers in alternation; also the CPU
    seconds per event of the web server and PostgreSQL in each (b) run (bench/cputime.py):
    steadier than throughput on a shared machine, where other tenants take the cores."""
    import orjson

    servers = {"on": start_server("1"), "off": start_server("0")}
    rates = {(mode, kind): [] for mode in servers for kind in ("b", "c4")}
    cpu = {mode: [] for mode in servers}
    meters = {
        mode: CpuMeter(
            {"web": lambda s=server: process_tree(s.proc.pid), "postgres": postgres},
            reaped=("postgres",),
        )
        for mode, server in servers.items()
    }
    try:
        for mode, server in servers.items():  # warm-up: connections, stages, first plans
            seed = 800_000 + (0 if mode == "on" else 1)
            warm = add_new_tools(make_events(1000, seed=seed), seed=seed)
            post_all(server.url, token, [orjson.dumps([e]) for e in warm], 4)
            if mode == "on":  # every statement planned once, then the marks make them work
                mark_inventory(connect)
        for run in range(args.repeat):
            order = ("on", "off") if run % 2 == 0 else ("off", "on")
            for mode in order:
                server = servers[mode]
                seed = 10_000 * (run + 1) + (0 if mode == "on" else 5_000)
                events = add_new_tools(make_events(args.events, seed=seed), seed=seed)
                bodies = [orjson.dumps(events[i : i + 1000]) for i in range(0, len(events), 1000)]
                meters[mode].start()
                rates[mode, "b"].append(len(events) / post_all(server.url, token, bodies, 4))
                used = meters[mode].stop()
                cpu[mode].append({role: used[role] / len(events) * 1e6 for role in used})
                singles = [
                    orjson.dumps([e])
                    for e in add_new_tools(make_events(args.single, seed=seed + 1), seed=seed + 1)
                ]
                rates[mode, "c4"].append(len(singles) / post_all(server.url, token, singles, 4))
            print(
                f"run {run + 1}: (b) on {rates['on', 'b'][-1]:,.0f}/s off "
                f"{rates['off', 'b'][-1]:,.0f}/s   (c4) on {rates['on', 'c4'][-1]:,.0f}/s off "
                f"{rates['off', 'c4'][-1]:,.0f}/s   (b) CPU us/event on "
                f"{_own(cpu['on'][-1]):.0f} off {_own(cpu['off'][-1]):.0f}",
                flush=True,
            )
    finally:
        for server in servers.values():
            server.stop()
    print("findings after the runs:", findings_count(connect))
    for kind, label in (("b", "1,000/request, 4 clients"), ("c4", "1 event/request, 4 clients")):
        on, off = (statistics.median(rates[mode, kind]) for mode in ("on", "off"))
        paired = statistics.median(a / b for a, b in zip(rates["on", kind], rates["off", kind]))
        print(
            f"({kind}) {label}: rules on {on:,.0f}/s, off {off:,.0f}/s, "
            f"on ÷ off = {on / off:.2f} (medians), {paired:.2f} (median of the runs' ratios)"
        )
    for mode in servers:
        web, db = (
            statistics.median(run[role] for run in cpu[mode]) for role in ("web", "postgres")
        )
        print(
            f"(b) CPU per event, rules {mode}: web {web:.1f} us + PostgreSQL {db:.1f} us "
            f"= {web + db:.1f} us (medians)"
        )
    on, off = (statistics.median(_own(run) for run in cpu[mode]) for mode in servers)
    print(
        f"(b) CPU per event off ÷ on = {off / on:.2f} (the throughput ratio a saturated machine "
        "would see)"
    )
