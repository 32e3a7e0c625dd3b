"""The optional C fast paths of the sandbox's hottest guards (``_fastguards.c``).

``pip install`` builds the extension where a C compiler and Python's headers are present; it
is optional, and ``NIGHTPOS_SANDBOX_NATIVE=0`` turns it off (the tests run the sandbox's
suites both ways). Each C guard does what the first lines of its Python twin do for the exact
types those lines let through (a plain dict's item, the product of two floats...) and calls
the Python twin for everything else, so both ways have the same semantics; only the cost of a
Python call on the common cases differs. ``make venv``/``make test-venv`` rebuild it when
``_fastguards.c`` or ``setup.py`` changed (``pip install -e .`` does it by hand).
"""

from __future__ import annotations

import os
from types import ModuleType

ENV_SWITCH = "NIGHTPOS_SANDBOX_NATIVE"


def _load() -> ModuleType | None:
    if os.environ.get(ENV_SWITCH, "1") == "0":
        return None
    try:
        from nightpos_app.sandbox import _fastguards
    except ImportError:  # not built here: the Python guards run alone
        return None
    return _fastguards


#: The extension module, or None where it is not built or is turned off.
fastguards: ModuleType | None = _load()
