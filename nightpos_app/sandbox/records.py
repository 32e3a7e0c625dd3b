"""Which classes the sandbox's guards treat as records.

The guards give records a surface of their own (any public name of the record API, checked
values), so they must know the record classes. They are registered rather than imported:
in the web process the record API is :mod:`nightpos_app.orm`; in a runner process
(:mod:`nightpos_app.sandbox.process`) it is a set of handles served over the runner's
channel, and the runner imports neither SQLAlchemy nor the app.
"""

from __future__ import annotations

#: Recordset classes (``env['sale.order']``, ``record``).
RECORDSETS: set[type] = set()
#: Environment classes (``env``).
ENVIRONMENTS: set[type] = set()
#: Both.
RECORD_TYPES: set[type] = set()


def register_record_types(recordset: type, environment: type) -> None:
    """Declare ``recordset`` and ``environment`` as the record API admin code may hold."""
    RECORDSETS.add(recordset)
    ENVIRONMENTS.add(environment)
    RECORD_TYPES.update((recordset, environment))
