"""Outgoing webhooks: the outbox, the sender and the worker that delivers messages."""
