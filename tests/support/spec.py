"""The specification's use cases, verbatim (../shared/spec/webhooks-en.md), for every test."""

from __future__ import annotations

#: Use case 1: the default Target Record, which also finds what another NightPOS sends.
TARGET_RECORD = "model.env[payload.get('_model')].browse(int(payload.get('_id')))"

#: Use case 1's test payload, for order S00007.
USE_CASE_1_PAYLOAD = {"_model": "sale.order", "_id": "7"}

#: Use case 2: the Target Record placeholder and the Execute Code source, character for character.
USE_CASE_2_TARGET = "model.browse([2])"
USE_CASE_2_CODE = """\
# variables to retrieve and hold data from the payload
contact_name = payload.get('name')
contact_email = payload.get('email')
contact_phone = payload.get('phone')

# a Python function to turn the variables into a contact in NightPOS
if contact_name and contact_email:
    new_partner = env['res.partner'].create({
        'name': contact_name,
        'email': contact_email,
        'phone': contact_phone,
        'company_type':'person',
        'customer_rank': 1,
    })
# an error message for missing required data in the payload
else:
    raise ValueError("Missing required fields: 'name' and 'email'")
"""

USE_CASE_2_PAYLOAD = {
    "name": "CONTACT NAME",
    "email": "CONTACTEMAIL@EMAIL.COM",
    "phone": "CONTACT PHONE NUMBER",
}
