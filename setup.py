"""The one thing pyproject.toml cannot say: the sandbox's optional C extension.

``nightpos_app/sandbox/_fastguards.c`` holds the fast paths of the sandbox's hottest guards.
It is optional: where it does not build (no C compiler, no Python headers) the install goes on
and the sandbox uses its Python guards alone (nightpos_app/sandbox/native.py).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "nightpos_app.sandbox._fastguards",
            sources=["nightpos_app/sandbox/_fastguards.c"],
            optional=True,
        )
    ]
)
