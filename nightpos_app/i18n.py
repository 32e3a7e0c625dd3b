"""The screens in several languages: markers, display-time translation, the locale choice.

NightPOS keeps every text it stores or exchanges in English: field labels in the model
registry (``FieldInfo.label``), model descriptions, action type labels, the record API's
errors, the REST API and the webhook responses. Only the screens translate, at the moment they
render, through one catalog (``nightpos_app/translations/<locale>/LC_MESSAGES/messages.po``)
that Flask-Babel reads together with Flask-AppBuilder's own.

* :func:`N_` marks an English text for extraction (``make translations``) and returns it as
  it is: for labels that live in models, dictionaries and class attributes, and are also read
  by code that must stay English.
* :func:`translate` translates such a text for the current request (English outside one).
* :func:`lazy` is the same, evaluated when rendered: for what is built once at start-up and
  rendered per request (FAB's ``label_columns``, view titles, WTForms labels, menu labels).

The user picks the language in FAB's language menu (``/lang/<locale>`` keeps it in the
session); :func:`init_i18n` keeps the REST API and the webhook URL in English whatever the
session says.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import cast

from flask import Flask, has_request_context, request
from flask_babel import get_babel, gettext, lazy_gettext

#: NightPOS's catalogs (``th/LC_MESSAGES/messages.po`` and its compiled ``.mo``).
TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"

#: Paths whose answers are for programs, not people: always English. FAB's REST resources
#: translate their ``label_columns`` with ``_()`` (and honour ``?_l_=<locale>``), and the
#: webhook URL answers other systems.
ENGLISH_ONLY_PREFIXES = ("/api/", "/web/hook/")

#: The locale of English-only paths (and the msgids' language).
SOURCE_LOCALE = "en"


def N_(message: str) -> str:  # noqa: N802  (the conventional gettext marker name)
    """Mark ``message`` for extraction; return it untranslated (it is translated on display)."""
    return message


def translate(message: str, **variables: object) -> str:
    """``message`` in the current request's language (as it is when it has no translation).

    ``variables`` fill its ``%(name)s`` placeholders after translation. Outside a request (the
    CLI) and on the English-only paths the message stays English. The empty string stays
    empty: gettext would answer it with the catalog's header.
    """
    if not message:
        return message
    return str(gettext(message, **variables))


def lazy(message: str, **variables: object) -> str:
    """``message`` translated each time it is rendered (for texts built once at start-up).

    ``variables`` fill its ``%(name)s`` placeholders after translation (they may be lazy
    too). Typed ``str``: a Flask-Babel ``LazyString`` behaves as one wherever the screens use
    it (Jinja, WTForms labels, FAB's ``label_columns``, JSON).
    """
    if not message:
        return message
    return cast(str, lazy_gettext(message, **variables))


def english_only() -> bool:
    """Whether the current request is answered in English whatever the chosen language."""
    return has_request_context() and request.path.startswith(ENGLISH_ONLY_PREFIXES)


def init_i18n(app: Flask) -> None:
    """Keep programs' answers in English; people's screens follow FAB's language choice.

    Called once FAB's ``BabelManager`` has installed its locale selector (the ``_l_`` query
    argument, else the session's ``locale``, else ``BABEL_DEFAULT_LOCALE``).
    """
    babel = get_babel(app)
    chosen_by_fab: Callable[[], str | None] | None = babel.locale_selector

    def select_locale() -> str | None:
        if english_only():
            return SOURCE_LOCALE
        return chosen_by_fab() if chosen_by_fab is not None else None

    babel.locale_selector = select_locale
