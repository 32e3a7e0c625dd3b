"""Flask extensions, created without an app and bound in ``create_app``.

Nothing per-app lives on these objects; per-app state goes in
``app.extensions``.
"""

from __future__ import annotations

from flask_appbuilder.models.sqla import Model
from flask_appbuilder.models.sqla.base import SQLA
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

# FAB's declarative Model, so FAB's security tables and ours share one
# metadata: create_all() and Alembic autogenerate see everything.
db = SQLA(model_class=Model)
csrf = CSRFProtect()
migrate = Migrate()
