"""The sandbox: runs admin-written Python (webhook Target Records, computed
values, Execute Code actions) with RestrictedPython, guarded access, and CPU
and memory budgets.

    from nightpos_app.sandbox import Sandbox, SandboxError, standard_helpers

    sandbox = Sandbox(cpu_seconds=2.0, memory_mb=128)
    names = {**standard_helpers(log=messages.append), "env": env, "payload": payload}
    records = sandbox.evaluate("env['sale.order'].browse(int(payload['id']))", names)
    sandbox.execute(code, names)            # -> the code's namespace
    sandbox.check(source, "exec")           # -> a message, or None when it compiles

Layout: ``policy`` (compile-time rules), ``compiler`` (compile cache),
``access`` (attribute/item/write guards), ``limits``, ``operators`` and
``methods`` (size checks), ``budget`` (CPU time and memory),
``safe_builtins``, ``helpers`` (datetime, time, json, log), ``runner``
(:class:`Sandbox`), ``errors``.
"""

from nightpos_app.sandbox.errors import SandboxError
from nightpos_app.sandbox.helpers import standard_helpers
from nightpos_app.sandbox.runner import Sandbox

__all__ = ["Sandbox", "SandboxError", "standard_helpers"]
