"""Webhooks and automation rules.

This release registers the addon; its models, screens and the secret-URL
endpoint arrive with the incoming-webhooks work.
"""

from __future__ import annotations

from nightpos_app.addons import Manifest

manifest = Manifest(
    name="webhooks",
    version="0.1.0",
    summary="Automation rules triggered by webhooks and record changes",
)
