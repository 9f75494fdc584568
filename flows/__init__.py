"""Prefect flows and tasks: they compose components and hold no algorithms."""
