"""Promotion between stacks: CI gates, job summaries, drift checks and the local `make promote` (stdlib only)."""
