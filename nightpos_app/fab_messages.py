"""Flask-AppBuilder's own texts that NightPOS's screens show, for languages FAB does not ship.

FAB translates its buttons, menus, list headers, filters, flash messages and form errors
through gettext, but FAB 5.3 has no Thai catalog. Flask-Babel merges NightPOS's catalog with
FAB's, so a translation of one of FAB's msgids in NightPOS's catalog is used on FAB's screens
too. This module is never called: it lists those msgids, exactly as FAB spells them, so that
``make translations`` keeps them in ``messages.pot``. For a language FAB does ship, NightPOS's
catalog may leave them untranslated: an empty ``msgstr`` does not hide FAB's own.
"""

from __future__ import annotations

from nightpos_app.i18n import N_

#: Lists, forms and show pages (FAB's templates and widgets).
WIDGETS = (
    N_("Actions"),
    N_("Add"),
    N_("Add Filter"),
    N_("Add a new record"),
    N_("Are you sure you want to delete this item?"),
    N_("Back"),
    N_("Delete"),
    N_("Delete record"),
    N_("Detail"),
    N_("Edit"),
    N_("Edit record"),
    N_("No records found"),
    N_("Order by"),
    N_("Page size"),
    N_("Record Count"),
    N_("Save"),
    N_("Search"),
    N_("Select Value"),
    N_("Show"),
    N_("Show record"),
    N_("User confirmation needed"),
)

#: What FAB flashes after a save or a delete, and when a page is refused.
FLASHES = (
    N_("Access is Denied"),
    N_("Added Row"),
    N_("Changed Row"),
    N_("Deleted Row"),
)

#: WTForms' messages on FAB's forms: FAB's form template shows field errors through ``_()``
#: (WTForms has no Thai catalog of its own).
FORMS = (
    N_("This field is required."),
    N_("Not a valid choice."),
    N_("Not a valid integer value."),
)

#: The search form's filters (``flask_appbuilder.models.sqla.filters``).
FILTERS = (
    N_("Contains"),
    N_("Ends with"),
    N_("Equal to"),
    N_("Greater than"),
    N_("In"),
    N_("No Relation"),
    N_("Not Contains"),
    N_("Not Ends with"),
    N_("Not Equal to"),
    N_("Not In"),
    N_("Not Starts with"),
    N_("Relation"),
    N_("Relation as Many"),
    N_("Smaller than"),
    N_("Starts with"),
)

#: The navbar, the login page, the home page.
NAVIGATION = (
    N_("Enter your login and password below"),
    N_("Invalid login. Please try again."),
    N_("Login"),
    N_("Logout"),
    N_("Password"),
    N_("Profile"),
    N_("Sign In"),
    N_("Username"),
    N_("Welcome"),
)

#: The Security menu and the user screens.
SECURITY = (
    N_("Add Role"),
    N_("Add User"),
    N_("Audit Info"),
    N_("Base Permissions"),
    N_("Changed by"),
    N_("Changed on"),
    N_("Created by"),
    N_("Created on"),
    N_("Edit Role"),
    N_("Edit User"),
    N_("Email"),
    N_("Failed login count"),
    N_("First Name"),
    N_("Full Name"),
    N_("Groups"),
    N_("Is Active?"),
    N_("Last Name"),
    N_("Last login"),
    N_("List Groups"),
    N_("List Roles"),
    N_("List Users"),
    N_("Login count"),
    N_("Permission on Views/Menus"),
    N_("Permissions"),
    N_("Personal Info"),
    N_("Reset Password"),
    N_("Reset my password"),
    N_("Role"),
    N_("Security"),
    N_("Show Role"),
    N_("Show User"),
    N_("User Name"),
    N_("User Registrations"),
    N_("User info"),
    N_("User's Statistics"),
    N_("Views/Menus"),
    N_("Your user information"),
)
