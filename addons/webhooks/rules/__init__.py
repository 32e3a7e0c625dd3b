"""Running rules: the engine, record triggers, and what they keep (here: due work)."""
