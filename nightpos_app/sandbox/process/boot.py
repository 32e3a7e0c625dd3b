"""Entry point of a runner process: ``python -I boot.py <fd> <memory bytes> <parent pid>``.

Run by path in isolated mode, so neither the environment nor the working directory adds
anything to the import path. ``nightpos_app`` is put in ``sys.modules`` as a bare package
first: its ``__init__`` builds the Flask app's machinery, which a runner must not hold.
"""

import os
import sys
import types

_root = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
)
sys.path.insert(0, _root)
_package = types.ModuleType("nightpos_app")
_package.__path__ = [os.path.join(_root, "nightpos_app")]
sys.modules["nightpos_app"] = _package

from nightpos_app.sandbox.process.child import main  # noqa: E402

main(sys.argv[1:])
