"""The screens in Thai as well as English; the catalog; programs' answers stay English.

The language is chosen as a person would: FAB's language menu (``/lang/th``) keeps it in the
session. Labels the registry keeps in English (field labels, model descriptions, selection
labels) are translated where the screens show them; the record API, the REST API and the
webhook URL keep every text in English whatever the session says.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import flask_appbuilder
import pytest
from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import Flask
from flask_babel import force_locale, gettext

from nightpos_app.i18n import TRANSLATIONS_DIR, lazy, translate
from nightpos_app.state import get_state
from tests.support.web import ADMIN, WebClient, navbar_menu, page_text

PROJECT_DIR = Path(__file__).resolve().parents[2]
THAI_PO = TRANSLATIONS_DIR / "th" / "LC_MESSAGES" / "messages.po"
THAI_MO = THAI_PO.with_suffix(".mo")
#: The extraction keywords `make translations` adds to pybabel's defaults (_, gettext, N_...).
EXTRA_KEYWORDS = ("lazy", "translate")
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdr]")

ORDERS = "/saleorderview"
THAI_CHARACTERS = re.compile(r"[\u0e00-\u0e7f]")


def read_catalog(path: Path) -> Catalog:
    with path.open("rb") as po:
        return read_po(po)


def translations(catalog: Any) -> dict[tuple[str | None, str], str]:
    """(context, msgid) -> msgstr of each translated, non-fuzzy message."""
    return {
        (message.context, message.id): message.string
        for message in catalog
        if message.id and message.string and not message.fuzzy
    }


def header_labels(page: str) -> list[str]:
    """The column headers of FAB's list table."""
    table = re.search(r"<thead>(.*?)</thead>", page, re.S)
    assert table, "no list table"
    return [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(r"<th[^>]*>(.*?)</th>", table.group(1), re.S)
    ]


@pytest.fixture
def thai_web(admin_web: WebClient) -> WebClient:
    """The admin, with Thai chosen in FAB's language menu."""
    response = admin_web.get("/lang/th")
    assert response.status_code == 302
    return admin_web


# ------------------------------------------------------------------------------ catalog


def test_the_compiled_catalog_matches_its_source() -> None:
    """Flask-Babel reads the .mo: it must hold exactly what the .po says (`make translations`)."""
    with THAI_MO.open("rb") as mo:
        compiled = read_mo(mo)
    assert translations(compiled) == translations(read_catalog(THAI_PO))


def test_every_text_the_code_marks_is_in_the_catalog_and_translated(tmp_path: Path) -> None:
    """Extract as `make translations` does: nothing the screens show is left in English."""
    pot = tmp_path / "messages.pot"
    keywords = [arg for keyword in EXTRA_KEYWORDS for arg in ("-k", keyword)]
    mapping = str(PROJECT_DIR / "babel.cfg")
    CommandLineInterface().run(
        ["pybabel", "-q", "extract", "-F", mapping, *keywords, "-o", str(pot), str(PROJECT_DIR)]
    )
    extracted = {(m.context, m.id) for m in read_catalog(pot) if m.id}
    thai = translations(read_catalog(THAI_PO))
    missing = sorted(extracted - thai.keys(), key=str)
    assert not missing, f"run `make translations` and translate: {missing}"
    # A sanity check that the extraction saw the models, the templates and FAB's texts.
    for expected in ("Target Record", "Add an action", "Update Record", "Record Count"):
        assert (None, expected) in extracted


def test_every_label_of_the_registered_models_has_a_thai_translation(app: Flask) -> None:
    """Labels reach the screens from the registry, not from a literal: a label without its
    ``N_`` marker would escape the extraction test above."""
    thai = translations(read_catalog(THAI_PO))
    shown: set[str] = set()
    for entry in get_state(app).registry:
        shown.add(entry.description)
        shown.update(entry.computed.values())
        for fld in entry.fields.values():
            shown.update([fld.label, *(label for _value, label in fld.selection)])
            if fld.help:
                shown.add(fld.help)
    shown.discard("Id")  # the key's label: no screen shows it
    missing = sorted(text for text in shown if (None, text) not in thai)
    assert not missing, f"mark them with N_ and run `make translations`: {missing}"


def test_translations_keep_their_placeholders_and_hold_no_markup() -> None:
    """A missing ``%(name)s`` would break the message at run time; templates print
    translations as they are (they are trusted), so they must not carry HTML."""
    for (_context, msgid), msgstr in translations(read_catalog(THAI_PO)).items():
        assert sorted(PLACEHOLDER.findall(msgstr)) == sorted(PLACEHOLDER.findall(msgid)), msgid
        # Jinja's gettext always %-formats: a stray "%" would break the template.
        assert msgstr.count("%") == msgid.count("%"), msgid
        assert not re.search(r"[<>&]", msgstr), msgid


def test_fab_keeps_its_own_catalogs_next_to_nightposs(app: Flask) -> None:
    folders = app.config["BABEL_TRANSLATION_DIRECTORIES"].split(";")
    assert str(TRANSLATIONS_DIR) in folders
    assert Path(folders[0]).resolve() == Path(flask_appbuilder.__file__).parent / "translations"
    with app.test_request_context("/"):
        with force_locale("de"):
            assert gettext("Search") == "Suchen"  # FAB's German, untouched
        with force_locale("th"):
            assert gettext("Search") == "ค้นหา"  # FAB's text, from NightPOS's catalog
            assert gettext("Rotate Secret") == "หมุนเปลี่ยนรหัสลับ"
        with force_locale("en"):
            assert gettext("Rotate Secret") == "Rotate Secret"


def test_translate_and_lazy(app: Flask) -> None:
    label = lazy("Target Record")
    with app.test_request_context("/"):
        with force_locale("th"):
            assert translate("Target Record") == "ระเบียนเป้าหมาย"
            assert str(label) == "ระเบียนเป้าหมาย"
            assert translate("Unknown model %(model)s.", model="'x'") == "ไม่รู้จักโมเดล 'x'"
            # gettext("") would be the catalog's header.
            assert translate("") == "" and lazy("") == ""
        assert str(label) == "Target Record"
    # Outside a request (the CLI): English.
    with app.app_context():
        assert translate("Target Record") == "Target Record"


# ------------------------------------------------------------------- choosing the language


def test_english_is_the_default_and_the_language_menu_offers_thai(admin_web: WebClient) -> None:
    page = admin_web.get("/").get_data(as_text=True)
    assert 'href="/lang/th"' in page and "ไทย" in page
    assert navbar_menu(page_text(admin_web.get("/")), "Sales")[-1] == (
        "/webhookview/list/?model=sale.order",
        "Webhooks",
    )
    assert not THAI_CHARACTERS.search(page.replace("ไทย", ""))


def test_thai_is_kept_for_the_session_and_english_can_be_chosen_again(
    thai_web: WebClient,
) -> None:
    page = page_text(thai_web.get("/"))
    assert ("/webhookview/list/?model=sale.order", "เว็บฮุค") in navbar_menu(page, "การขาย")
    assert 'href="/lang/en"' in thai_web.get("/").get_data(as_text=True)
    assert thai_web.get("/lang/en").status_code == 302
    page = page_text(thai_web.get("/"))
    assert ("/webhookview/list/?model=sale.order", "Webhooks") in navbar_menu(page, "Sales")


def test_an_unknown_language_is_refused(admin_web: WebClient) -> None:
    assert admin_web.get("/lang/xx").status_code == 404


def test_the_login_page_follows_the_chosen_language(web: WebClient) -> None:
    assert web.get("/lang/th").status_code == 302
    page = page_text(web.get("/login/"))
    assert "ลงชื่อเข้าใช้" in page and "รหัสผ่าน" in page


# ------------------------------------------------------------------ menus and CRUD screens


def test_thai_menus(thai_web: WebClient) -> None:
    page = page_text(thai_web.get("/"))
    assert navbar_menu(page, "การขาย") == [
        (f"{ORDERS}/list/", "คำสั่งขาย"),
        ("/rescurrencyview/list/", "สกุลเงิน"),
        ("/webhookview/list/?model=sale.order", "เว็บฮุค"),
    ]
    assert navbar_menu(page, "รายชื่อผู้ติดต่อ") == [
        ("/respartnerview/list/", "รายชื่อผู้ติดต่อ"),
        ("/webhookview/list/?model=res.partner", "เว็บฮุค"),
    ]
    assert navbar_menu(page, "สตูดิโอ") == [
        ("/webhookview/list/", "เว็บฮุค"),
        ("/automationruleview/list/", "ระบบอัตโนมัติ"),
        ("/webhookdeliveryview/list/", "การส่งข้อความ"),
    ]
    assert "เปิดใช้งานโหมดนักพัฒนา" in page and "ออกจากระบบ" in page


def test_order_list_in_thai_and_in_english(app: Flask, demo: None, admin_web: WebClient) -> None:
    english = admin_web.get(f"{ORDERS}/list/").get_data(as_text=True)
    assert {"Order Reference", "Customer", "Currency", "Order Date", "Status", "Total"} <= set(
        header_labels(english)
    )
    assert "Quotation" in page_text(admin_web.get(f"{ORDERS}/list/"))
    admin_web.get("/lang/th")
    thai_page = admin_web.get(f"{ORDERS}/list/").get_data(as_text=True)
    thai_headers = set(header_labels(thai_page))
    assert {"เลขที่คำสั่งขาย", "ลูกค้า", "สกุลเงิน", "วันที่สั่ง", "สถานะ", "ยอดรวม"} <= thai_headers
    text = page_text(admin_web.get(f"{ORDERS}/list/"))
    assert "ใบเสนอราคา" in text and "Quotation" not in text
    assert "คำสั่งขาย" in text and "จำนวนระเบียน" in text and "เพิ่มตัวกรอง" in text


def test_order_form_in_thai_keeps_the_stored_values(
    app: Flask, demo: None, thai_web: WebClient
) -> None:
    page = thai_web.get(f"{ORDERS}/add").get_data(as_text=True)
    text = page_text(thai_web.get(f"{ORDERS}/add"))
    assert "สร้างคำสั่งขายใหม่" in text
    assert "ลูกค้า" in text and "ข้อกำหนดและเงื่อนไข" in text and "บันทึก" in text
    states = re.search(r'<select[^>]*name="state"[^>]*>(.*?)</select>', page, re.S)
    assert states, "no state dropdown"
    choices = re.findall(r'<option[^>]*value="([^"]*)"[^>]*>([^<]*)</option>', states.group(1))
    assert ("draft", "ใบเสนอราคา") in choices and ("cancel", "ยกเลิกแล้ว") in choices


def test_contacts_in_thai(demo: None, thai_web: WebClient) -> None:
    text = page_text(thai_web.get("/respartnerview/list/"))
    assert {"ชื่อ", "อีเมล", "ประเภทบริษัท", "เปิดใช้งาน"} <= set(
        header_labels(thai_web.get("/respartnerview/list/").get_data(as_text=True))
    )
    assert "บุคคล" in text and "บริษัท" in text and "ใช่" in text
    assert "True" not in text and "Individual" not in text


def test_the_developer_mode_message_is_translated(thai_web: WebClient) -> None:
    page = thai_web.get("/").get_data(as_text=True)
    token = re.search(r'id="developer-mode-form".*?name="csrf_token" value="([^"]+)"', page, re.S)
    assert token
    response = thai_web.client.post(
        "/devmode/toggle", data={"csrf_token": token.group(1), "next": "/"}, follow_redirects=True
    )
    text = page_text(response)
    assert "เปิดโหมดนักพัฒนาแล้ว" in text and "ปิดใช้งานโหมดนักพัฒนา" in text
    page = thai_web.get("/").get_data(as_text=True)
    token = re.search(r'id="developer-mode-form".*?name="csrf_token" value="([^"]+)"', page, re.S)
    assert token
    thai_web.client.post("/devmode/toggle", data={"csrf_token": token.group(1), "next": "/"})


# ------------------------------------------------------------- programs' answers: English


def test_the_rest_api_stays_english_for_a_thai_session_and_for_l_th(
    app: Flask, demo: None, thai_web: WebClient
) -> None:
    """FAB's API would translate ``label_columns`` with ``_()`` (and honour ``?_l_=th``)."""
    token = thai_web.api_token(ADMIN)
    headers = {"Authorization": f"Bearer {token}"}
    # The same client: its cookie carries the Thai session.
    for url in ("/api/v1/sale_order/", "/api/v1/sale_order/?_l_=th"):
        body = thai_web.client.get(url, headers=headers).get_json()
        assert body["label_columns"]["currency_id"] == "Currency"
        assert body["label_columns"]["state"] == "Status"
        assert body["result"][0]["state"] in ("draft", "sent", "sale", "cancel")
    info = thai_web.client.get("/api/v1/sale_order/_info?_l_=th", headers=headers).get_json()
    assert not THAI_CHARACTERS.search(str(info))
    refused = thai_web.client.post(
        "/api/v1/sale_order/?_l_=th", headers=headers, json={"partner_id": 1, "currency_id": 999}
    )
    assert refused.status_code == 422
    assert refused.get_json() == {"message": {"currency_id": ["No Currency with id 999."]}}
    # The screens of the same session are still Thai.
    assert "เว็บฮุค" in page_text(thai_web.get("/"))


def test_the_registry_keeps_english_labels_in_a_thai_request(app: Flask) -> None:
    """The record API's messages and the REST API read the registry's labels as they are."""
    with app.test_request_context("/"), force_locale("th"):
        entry = get_state(app).registry["base.automation"]
        assert entry.fields["target_record"].label == "Target Record"
        assert entry.description == "Automation Rule"
        assert translate(entry.fields["target_record"].label) == "ระเบียนเป้าหมาย"
