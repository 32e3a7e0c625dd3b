"""NightPOS settings.

Every value can be set from the environment; ``create_app(config)`` overrides
them for one app (tests do this). Loaded by path, so it works from any cwd.
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("NIGHTPOS_INSTANCE_DIR", BASE_DIR / "instance"))

# --- Database: one URL chooses it. SQLite under instance/ is the default.
SQLALCHEMY_DATABASE_URI = os.environ.get(
    "NIGHTPOS_DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'nightpos.db'}"
)
SQLALCHEMY_TRACK_MODIFICATIONS = False
SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
# SQLite: how long a writer waits for another's lock before the call answers 503.
NIGHTPOS_SQLITE_BUSY_TIMEOUT_MS = int(os.environ.get("NIGHTPOS_SQLITE_BUSY_TIMEOUT_MS", "30000"))

# --- Secret key: from the environment, else generated once and kept in instance/.
SECRET_KEY = os.environ.get("NIGHTPOS_SECRET_KEY")  # None: see nightpos_app.secrets

# --- Addons: which are enabled (dependencies are enabled with them).
NIGHTPOS_ADDONS = [
    name.strip()
    for name in os.environ.get("NIGHTPOS_ADDONS", "contacts,sales,webhooks").split(",")
    if name.strip()
]

# --- Flask-AppBuilder
APP_NAME = "NightPOS"
AUTH_TYPE = 1  # AUTH_DB
AUTH_ROLE_ADMIN = "Admin"
AUTH_ROLE_PUBLIC = "Public"
# The schema belongs to the migrations, and permissions are synced by
# `flask nightpos init`; app start-up writes nothing to the database.
FAB_CREATE_DB = False
FAB_UPDATE_PERMS = False
FAB_API_SWAGGER_UI = True
FAB_API_MAX_PAGE_SIZE = 100
# FAB's layout with the favicon and NightPOS's styles (nightpos_app/templates/nightpos/).
FAB_BASE_TEMPLATE = "nightpos/base.html"

# --- Languages of the screens: FAB's language menu offers these (``/lang/th`` keeps the
# choice in the session). NightPOS's catalogs are in nightpos_app/translations, read together
# with FAB's own; the REST API and the webhook URL always answer in English.
BABEL_DEFAULT_LOCALE = "en"
LANGUAGES = {
    "en": {"flag": "gb", "name": "English"},
    "th": {"flag": "th", "name": "ไทย"},
}

# --- Cookies and CSRF
WTF_CSRF_ENABLED = True
WTF_CSRF_TIME_LIMIT = None  # token lives as long as the session
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = os.environ.get("NIGHTPOS_SECURE_COOKIES", "0") == "1"
REMEMBER_COOKIE_SAMESITE = "Lax"
REMEMBER_COOKIE_HTTPONLY = True

# --- Admin bootstrap (`flask nightpos init`)
NIGHTPOS_ADMIN_USERNAME = os.environ.get("NIGHTPOS_ADMIN_USERNAME", "admin")
NIGHTPOS_ADMIN_EMAIL = os.environ.get("NIGHTPOS_ADMIN_EMAIL", "admin@nightpos.local")
