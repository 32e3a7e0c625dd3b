"""NightPOS's built-in addons (found through the ``nightpos.addons`` entry points)."""
