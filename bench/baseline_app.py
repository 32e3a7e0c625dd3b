"""The bare baseline: plain Flask + SQLAlchemy Core doing the webhook use cases' writes.

Served by the same gunicorn settings against the same database as NightPOS
(``gunicorn 'bench.baseline_app:create_app()'``), it answers the same URLs:

* ``POST /web/hook/<secret>`` with the use case 1 secret: read the order's currency (the id
  from the payload) and, if it is not USD, ``UPDATE sale_order SET currency_id = <USD>``, as
  Update Record does; commit, ``{"status": "ok"}``;
* with the "toggle" secret: read the order's currency and write the other one (USD or
  ``BENCH_BASELINE_OTHER_ID``), every call;
* with the use case 2 secret: ``INSERT INTO res_partner`` from the payload, commit;
* with the "accept" secret (Respond at once's bare stack): ``INSERT INTO base_automation_call``
  of the payload as JSON, commit, ``202 {"status": "accepted", "id": ...}``
  (``BENCH_BASELINE_ACCEPT_RULE_ID`` is the row's rule);
* any other secret: ``404 {"status": "error"}``.

Secrets come from ``BENCH_BASELINE_SECRETS`` (JSON: ``{"<secret>": "uc1" | "uc2"}``), the
database from ``NIGHTPOS_DATABASE_URL``, the USD id from ``BENCH_BASELINE_USD_ID``
(``"toggle"`` secrets too). On SQLite
the connection gets what NightPOS's does: WAL and a busy timeout, so the comparison is of the
application code, not of database settings.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from typing import Any

import sqlalchemy as sa
from flask import Flask, jsonify, request

_ORDERS = sa.table("sale_order", sa.column("id"), sa.column("currency_id"))
_PARTNERS = sa.table(
    "res_partner",
    sa.column("name"),
    sa.column("email"),
    sa.column("phone"),
    sa.column("company_type"),
    sa.column("customer_rank"),
    sa.column("supplier_rank"),
    sa.column("active"),
)


_CALLS = sa.table(
    "base_automation_call",
    sa.column("id"),
    sa.column("rule_id"),
    sa.column("called_at"),
    sa.column("method"),
    sa.column("status"),
    sa.column("http_status"),
    sa.column("payload"),
    sa.column("payload_truncated"),
    sa.column("duration_ms"),
    sa.column("attempts"),
    sa.column("next_attempt_at"),
    sa.column("run_payload"),
)


def _engine(url: str) -> sa.Engine:
    # As NightPOS's engine: a ping before each checkout, except on SQLite (a file).
    engine = sa.create_engine(url, pool_pre_ping=not url.startswith("sqlite"))
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        @sa.event.listens_for(engine, "begin")
        def _on_begin(connection: Any) -> None:
            # A write transaction: take the write lock up front, as NightPOS's webhook does.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def create_app() -> Flask:
    app = Flask(__name__)
    engine = _engine(os.environ["NIGHTPOS_DATABASE_URL"])
    secrets: dict[str, str] = json.loads(os.environ.get("BENCH_BASELINE_SECRETS", "{}"))
    usd_id = int(os.environ.get("BENCH_BASELINE_USD_ID", "1"))
    other_id = int(os.environ.get("BENCH_BASELINE_OTHER_ID", "2"))
    accept_rule_id = int(os.environ.get("BENCH_BASELINE_ACCEPT_RULE_ID", "1"))

    @app.post("/web/hook/<string:secret>")
    def webhook(secret: str) -> Any:
        case = secrets.get(secret)
        if case is None:
            return jsonify({"status": "error"}), 404
        payload = request.get_json(silent=True)
        if not isinstance(payload, dict):
            return jsonify({"status": "error", "message": "not JSON"}), 400
        with engine.begin() as connection:
            if case == "accept":
                now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
                text = json.dumps(payload)
                call_id = connection.execute(
                    sa.insert(_CALLS)
                    .values(
                        rule_id=accept_rule_id,
                        called_at=now,
                        method="POST",
                        status="accepted",
                        http_status=202,
                        payload=text,
                        payload_truncated=False,
                        duration_ms=0.0,
                        attempts=0,
                        next_attempt_at=now,
                        run_payload=text,
                    )
                    .returning(_CALLS.c.id)
                ).scalar_one()
                return jsonify({"status": "accepted", "id": call_id}), 202
            if case in ("uc1", "toggle"):
                order = _ORDERS.c.id == int(payload["_id"])
                current = connection.execute(
                    sa.select(_ORDERS.c.currency_id).where(order)
                ).scalar_one()
                wanted = usd_id if case == "uc1" or current != usd_id else other_id
                if current != wanted:
                    connection.execute(sa.update(_ORDERS).where(order).values(currency_id=wanted))
            else:
                if not (payload.get("name") and payload.get("email")):
                    return jsonify({"status": "error", "message": "missing fields"}), 500
                connection.execute(
                    sa.insert(_PARTNERS).values(
                        name=payload["name"],
                        email=payload["email"],
                        phone=payload.get("phone"),
                        company_type="person",
                        customer_rank=1,
                        supplier_rank=0,
                        active=True,
                    )
                )
        return jsonify({"status": "ok"})

    return app
