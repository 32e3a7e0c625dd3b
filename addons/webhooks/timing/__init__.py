"""Timing rules and scheduled actions: the scheduler that runs due work (rules/due.py)."""
