"""The second layer: admin code runs in runner processes, never in the web process.

    parent (web, worker, CLI)                     runner (boot.py -> child.py)
      IsolatedSandbox.evaluate/execute   --run-->   Sandbox (RestrictedPython, budgets)
      RecordService: the real record API <--op--    RemoteRecordSet handles
      CodeCall: one runner, one CPU and wall budget per call; kills a runner that overruns

``client`` (:class:`IsolatedSandbox`, :class:`CodeCall`), ``runner`` (one process and the
pool), ``service`` (the record API served to a runner), ``wire`` (messages), ``child`` and
``remote`` (the runner's side), ``boot`` (its entry point).
"""

from typing import Any

__all__ = ["CodeCall", "IsolatedSandbox"]


def __getattr__(name: str) -> Any:
    # Imported when asked for: a runner imports this package too, and must not load the
    # parent's side (the record API, SQLAlchemy).
    if name in __all__:
        from nightpos_app.sandbox.process import client

        return getattr(client, name)
    raise AttributeError(name)
