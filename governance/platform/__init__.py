"""Shared infrastructure every app may import: it imports no domain code (no inventory, audit or
governance models or services), so any app can build on it without an import cycle."""
