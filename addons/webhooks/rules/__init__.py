"""Automation rules: what runs a rule's actions, whatever triggered it.

``engine`` runs a rule's actions on its target records; ``transactions`` wraps a run in its
database transaction (retries, the rule-revision check) and ``calllog`` records it;
``triggers`` runs record rules when records change (``record_filters`` parses and checks their
filters); ``due`` keeps the work timing rules have to do at a time (the timing scheduler runs
it) and ``timing_settings`` checks their settings; ``state`` holds the addon's per-app
registries; ``revision`` tells processes when rules were edited; ``steps``, ``changes``,
``known_targets``, ``code_rights``, ``hidden_headers`` and ``record_dry_run`` serve the engine
and the screens. Drivers (incoming webhooks, the outbox worker, the timing scheduler, the
screens) import from here, never the reverse.
"""
