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

import logging
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


def warn_if_not_built(logger: logging.Logger) -> bool:
    """Log once that the C fast paths are not built (not when turned off on purpose); whether
    it warned. Rule code then runs with the Python guards alone: the same checks, about 1.7 ×
    the time on loops (docs/performance.md), which an operator should hear of at start-up."""
    global _warned
    if fastguards is not None or os.environ.get(ENV_SWITCH, "1") == "0" or _warned:
        return False
    _warned = True
    logger.warning(
        "sandbox: the C guards (nightpos_app/sandbox/_fastguards.c) are not built here; rule "
        "code runs with the Python guards alone, slower on loops. Install a C compiler and "
        "Python's headers, then reinstall (pip install -e .)."
    )
    return True


_warned = False
