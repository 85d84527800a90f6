"""Audit: what happened. Event sources, the append-only event store, the integrity chain."""
