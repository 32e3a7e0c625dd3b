"""The instance folder and NightPOS's files in it are the owner's only.

The SQLite database holds password hashes and webhook secrets, ``secret_key`` signs every
session: a new install makes the folder 0700 and those files 0600 (SQLite's -wal and -shm
included), and an install made with looser modes is tightened at the next start, with a
warning that says so. Each test builds a real app on a folder of its own, under a umask that
would make everything readable by everyone (022, the usual one).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from nightpos_app import create_app
from nightpos_app.bootstrap import initialise
from nightpos_app.extensions import db


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def modes(folder: Path) -> dict[str, int]:
    """Every file's and folder's mode, under ``folder`` (which included, as ``.``)."""
    found = {".": mode(folder)}
    for path in folder.rglob("*"):
        found[str(path.relative_to(folder))] = mode(path)
    return found


def make_app(instance: Path) -> Flask:
    """An app as ``make run`` builds it: the database and the secret key in the instance."""
    return create_app(
        {
            "TESTING": True,
            "INSTANCE_DIR": str(instance),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance / 'nightpos.db'}",
            "SECRET_KEY": None,  # generated and kept in instance/secret_key
        }
    )


def dispose(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_new_install_is_owner_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NIGHTPOS_ADMIN_PASSWORD", raising=False)
    instance = tmp_path / "srv" / "instance"
    app = make_app(instance)
    try:
        login = initialise(app, demo=True)  # migrations, demo data, the admin and its password
        assert login.created
        with app.app_context():  # a write in WAL mode: the -wal and -shm files exist now
            db.session.execute(db.text("UPDATE res_partner SET name = name"))
            db.session.commit()
            found = modes(instance)
    finally:
        dispose(app)
    assert found == {
        ".": 0o700,
        "secret_key": 0o600,
        "admin_password": 0o600,
        "nightpos.db": 0o600,
        "nightpos.db-wal": 0o600,
        "nightpos.db-shm": 0o600,
    }
    assert mode(instance.parent) == 0o755  # the folders above are not NightPOS's to close


def test_an_existing_world_readable_install_is_tightened_at_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    instance = tmp_path / "instance"
    # An install as older versions left it: everything readable by everyone, the database in
    # use by another process (its -wal and -shm there), and a rollback journal left behind.
    instance.mkdir(mode=0o755)
    (instance / "secret_key").write_text("old-secret-key\n")
    (instance / "admin_password").write_text("old-password\n")
    other_process = sqlite3.connect(instance / "nightpos.db", isolation_level=None)
    other_process.execute("PRAGMA journal_mode=WAL")
    other_process.execute("CREATE TABLE scratch (x)")
    other_process.execute("INSERT INTO scratch VALUES (1)")
    (instance / "nightpos.db-journal").write_bytes(b"")
    for path in instance.iterdir():
        path.chmod(0o644)
    instance.chmod(0o755)
    assert set(modes(instance).values()) == {0o755, 0o644}
    (instance / "notes.txt").write_text("the admin's own file")  # not NightPOS's: left alone

    try:
        with caplog.at_level(logging.WARNING, logger="nightpos_app.instance"):
            app = make_app(instance)
        assert modes(instance) == {
            ".": 0o700,
            "secret_key": 0o600,
            "admin_password": 0o600,
            "nightpos.db": 0o600,
            "nightpos.db-wal": 0o600,
            "nightpos.db-shm": 0o600,
            "nightpos.db-journal": 0o600,
            "notes.txt": 0o644,
        }
        warned = [r.getMessage() for r in caplog.records if r.name == "nightpos_app.instance"]
        for name, before, after in [
            ("", "0755", "0700"),
            ("/secret_key", "0644", "0600"),
            ("/admin_password", "0644", "0600"),
            ("/nightpos.db", "0644", "0600"),
            ("/nightpos.db-wal", "0644", "0600"),
            ("/nightpos.db-shm", "0644", "0600"),
        ]:
            line = f"{instance}{name} could be read by others (mode {before}): made owner-only "
            assert f"{line}(mode {after})" in warned, warned
        assert app.config["SECRET_KEY"] == "old-secret-key"  # the same install, kept as it was
        # ...and it works: the schema is brought up to date in the tightened database.
        initialise(app, demo=False)
        dispose(app)
        assert other_process.execute("SELECT x FROM scratch").fetchall() == [(1,)]
    finally:
        other_process.close()

    # The next start has nothing to say.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="nightpos_app.instance"):
        dispose(make_app(instance))
    assert not [r for r in caplog.records if r.name == "nightpos_app.instance"]


def test_a_shared_folder_is_not_closed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp: closing it would lock everyone else out
    with caplog.at_level(logging.WARNING, logger="nightpos_app.instance"):
        app = make_app(shared)
    dispose(app)
    assert mode(shared) == 0o1777
    assert mode(shared / "nightpos.db") == 0o600 and mode(shared / "secret_key") == 0o600
    assert any("is a shared folder (mode 1777)" in r.getMessage() for r in caplog.records)
