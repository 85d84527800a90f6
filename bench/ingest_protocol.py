"""What recording MCP protocol features costs the ingest: `bench/ingest.py --protocol-on-off`.

Two production web servers on the same database, one with AUDIT_PROTOCOL_EXTRACTION on, one
with it off, take the same kind of traffic in alternation (on, off, on, off, ...: drift on a
shared machine hits both alike): (b) 1,000 events per request over 4 clients and (c4) one event
per request over 4 clients. The events are bench/ingest.py's tools/call mix plus what a
session's protocol traffic adds: 2% `initialize` with both peers' declarations, 0.5% URL-mode
elicitations and 0.5% sampling with tools, so the on-run does the extraction work a real
gateway's traffic asks for. Prints medians and on ÷ off (docs/performance.md).
"""

from __future__ import annotations

import statistics


def add_protocol_traffic(events: list[dict], *, seed: int, share: float = 1.0) -> list[dict]:
    """The events with 3% (x `share`) of them turned into protocol traffic (in place)."""
    import random

    rnd = random.Random(seed)
    for i, event in enumerate(events):  # (a client's declaration does not change between runs)
        roll = rnd.random() / share if share else 1.0
        if roll < 0.02:
            event["method"] = "initialize"
            event.pop("tool", None)
            event["attributes"]["params"] = {
                "protocolVersion": "2025-11-25",
                "capabilities": {
                    "roots": {"listChanged": True},
                    "sampling": {"tools": {}},
                    "elicitation": {"form": {}, "url": {}},
                    "extensions": {"io.modelcontextprotocol/ui": {}},
                },
                "clientInfo": {"name": "agent", "version": "1.0"},
            }
            event["attributes"]["result"] = {
                "protocolVersion": "2025-11-25",
                "capabilities": {"tools": {"listChanged": True}, "logging": {}},
                "serverInfo": {"name": "server", "version": "1.0.0"},
            }
        elif roll < 0.025:
            event["method"] = "elicitation/create"
            event["attributes"]["params"] = {
                "mode": "url",
                "elicitationId": f"e-{i}",
                "url": f"https://{event['server']['url'].split('/')[2]}/connect?e={i}",
                "message": "Connect your account",
            }
        elif roll < 0.03:
            event["method"] = "sampling/createMessage"
            event["attributes"]["params"] = {
                "messages": [],
                "maxTokens": 100,
                "tools": [{"name": "search"}, {"name": "fetch"}],
                "toolChoice": {"mode": "auto"},
            }
    return events


def on_off(*, make_events, start_server, post_all, token, args) -> None:
    """Run (b) and (c4) against the extraction-on and -off servers in alternation."""
    import orjson

    servers = {"on": start_server("1"), "off": start_server("0")}
    rates = {(mode, kind): [] for mode in servers for kind in ("b", "c4")}
    try:
        for mode, server in servers.items():  # warm-up: connections, stages, first plans
            seed = 900_000 + (0 if mode == "on" else 1)
            # (with protocol traffic: a connection plans each protocol statement on first use)
            warm = add_protocol_traffic(make_events(1000, seed=seed), seed=seed)
            post_all(server.url, token, [orjson.dumps([e]) for e in warm], 4)
        for run in range(args.repeat):
            # Alternate which goes first: whatever the first of a pair pays (or leaves behind,
            # such as dead rows to vacuum) is not always charged to the same mode.
            order = ("on", "off") if run % 2 == 0 else ("off", "on")
            for mode in order:
                server = servers[mode]
                seed = 10_000 * (run + 1) + (0 if mode == "on" else 5_000)
                events = add_protocol_traffic(
                    make_events(args.events, seed=seed), seed=seed, share=args.protocol_share
                )
                bodies = [orjson.dumps(events[i : i + 1000]) for i in range(0, len(events), 1000)]
                rates[mode, "b"].append(len(events) / post_all(server.url, token, bodies, 4))
                singles = [
                    orjson.dumps([e])
                    for e in add_protocol_traffic(
                        make_events(args.single, seed=seed + 1),
                        seed=seed + 1,
                        share=args.protocol_share,
                    )
                ]
                rates[mode, "c4"].append(len(singles) / post_all(server.url, token, singles, 4))
            print(
                f"run {run + 1}: (b) on {rates['on', 'b'][-1]:,.0f}/s off "
                f"{rates['off', 'b'][-1]:,.0f}/s   (c4) on {rates['on', 'c4'][-1]:,.0f}/s off "
                f"{rates['off', 'c4'][-1]:,.0f}/s",
                flush=True,
            )
    finally:
        for server in servers.values():
            server.stop()
    for kind, label in (("b", "1,000/request, 4 clients"), ("c4", "1 event/request, 4 clients")):
        on, off = (statistics.median(rates[mode, kind]) for mode in ("on", "off"))
        # Runs minutes apart on a shared machine drift more than on and off differ: the median
        # of each run's own on ÷ off (the two measured back to back) is the steadier figure.
        paired = statistics.median(a / b for a, b in zip(rates["on", kind], rates["off", kind]))
        print(
            f"({kind}) {label}: extraction on {on:,.0f}/s, off {off:,.0f}/s, "
            f"on ÷ off = {on / off:.2f} (medians), {paired:.2f} (median of the runs' ratios)"
        )
