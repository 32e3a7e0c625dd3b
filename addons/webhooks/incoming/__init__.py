"""Incoming webhooks: from a POST to a secret URL to a rule run and its answer.

``endpoint`` is the Flask route; ``webhook_rules`` finds the rule behind a URL secret;
``guards`` checks the request (IP, authentication, rate limit, size); ``payloads`` parses the
body; ``idempotency`` answers a repeated call from its stored response; ``urls`` builds the
addresses shown to admins; ``inbox`` stores the calls of rules that respond at once,
``worker`` runs them in the background, and ``replay`` runs logged calls again. The rule
itself runs through :mod:`addons.webhooks.rules`.
"""
