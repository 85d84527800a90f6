"""Audit writes: sources, ingestion, partitions/retention, the integrity chain."""
