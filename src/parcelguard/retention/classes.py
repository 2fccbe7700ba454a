"""The data classes (数据类别): every personal field and artefact parcelguard keeps belongs to one, and each
class has a retention period. docs/retention.md is the same registry as a table; a test keeps the two
equal and checks that every class name the code encrypts under is registered here.

A class's values that are encrypted (`mechanism="shred"`) are under data keys of their own, one per
(carrier, class, UTC month), wrapped under the shredding key of that class and month (`crypto.keyring`,
`crypto.keystore`), so the end of a month's retention destroys one key, not rows one by one. Data that is not
personal by itself but becomes so joined to a shipment is deleted by row (`"delete"`); signed artefacts
stop verifying when the key versions that signed them are retired (`"expire"`).

Retention is counted in months. `minimum_months` is the least a carrier may set: a legal floor where a
rule sets one (cited at the class), else the least the data's purpose needs. Defaults follow the rules
in DESIGN.md ("Rules the product encodes"):

- GB/T 27917 (快递服务): electronic waybill data is kept at least 2 years (paper waybills 1 year; the
  paper copies are outside the system).
- 快递暂行条例 (2018) art. 34: keep user data safe and destroy waybills periodically; art. 22: a waybill
  carries no identity data beyond name, address and phone.
- 寄递服务用户个人信息安全管理规定 (2014): user information is names, addresses, ID numbers, phones, and
  also waybill numbers, times and item details; destroy archives at the end of retention and keep a
  record of the destruction.
- PIPL (个人信息保护法) art. 19: retention is the shortest the purpose needs; art. 28: ID numbers are
  sensitive personal information.
- 网络安全法 (Cybersecurity Law) art. 21: network logs are kept at least 6 months.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Mechanism = Literal["shred", "delete", "expire"]
MECHANISMS: tuple[Mechanism, ...] = ("shred", "delete", "expire")
# GB/T 27917: electronic waybill data at least 2 years.
ELECTRONIC_WAYBILL_MONTHS = 24
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")  # crypto_data_keys.data_class is VARCHAR(64)


@dataclass(frozen=True)
class DataClass:
    """A class of personal data and how long it lives.

    `covers` names what the class holds: `table.column` (one column), `table` (whole rows), or, with
    spaces, an artefact described in words (a printed token, detail that does not exist yet)."""

    name: str
    what_en: str
    what_zh: str
    default_months: int
    minimum_months: int
    mechanism: Mechanism
    covers: tuple[str, ...]

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"a data class name is a lowercase word of at most 64 characters: {self.name!r}")
        if self.mechanism not in MECHANISMS:
            raise ValueError(f"unknown mechanism {self.mechanism!r} for {self.name}")
        if not 1 <= self.minimum_months <= self.default_months:
            raise ValueError(f"{self.name}: the default retention is at least its minimum, which is at least 1")
        if not self.covers:
            raise ValueError(f"{self.name} covers nothing")

    def __repr__(self) -> str:
        return f"DataClass({self.name!r})"


# -- the electronic waybill (电子运单): at least 2 years, GB/T 27917 --------------------------------------

RECIPIENT_CONTACT = DataClass(
    name="recipient_contact",
    what_en="The recipient's name, phone number and address on a shipment.",
    what_zh="收件人姓名、电话、地址",
    # GB/T 27917 (electronic waybill data ≥ 2 years); 快递暂行条例 art. 22 and art. 34.
    default_months=ELECTRONIC_WAYBILL_MONTHS, minimum_months=ELECTRONIC_WAYBILL_MONTHS, mechanism="shred",
    covers=("shipments.recipient_name", "shipments.recipient_phone", "shipments.recipient_address"),
)
SENDER_CONTACT = DataClass(
    name="sender_contact",
    what_en="The sender's name and address on a shipment (a registered sender's name moves here at intake).",
    what_zh="寄件人姓名、地址",
    # GB/T 27917; 快递暂行条例 art. 22 and art. 34.
    default_months=ELECTRONIC_WAYBILL_MONTHS, minimum_months=ELECTRONIC_WAYBILL_MONTHS, mechanism="shred",
    covers=("shipments.sender_name", "shipments.sender_address"),
)
SENDER_PHONE = DataClass(
    name="sender_phone",
    what_en="The sender's phone number on a shipment (a registered sender's phone moves here at intake).",
    what_zh="寄件人电话",
    # GB/T 27917; 快递暂行条例 art. 22 and art. 34. A class of its own: the phone is what leaked waybill data
    # is sold for, so a carrier that keeps names and addresses longer (for claims) need not keep it longer.
    default_months=ELECTRONIC_WAYBILL_MONTHS, minimum_months=ELECTRONIC_WAYBILL_MONTHS, mechanism="shred",
    covers=("shipments.sender_phone",),
)
ITEM_DESCRIPTION = DataClass(
    name="item_description",
    what_en="What the sender said is inside: each item's description.",
    what_zh="物品描述（内件品名）",
    # 寄递服务用户个人信息安全管理规定 (2014): item details are user information; GB/T 27917.
    default_months=ELECTRONIC_WAYBILL_MONTHS, minimum_months=ELECTRONIC_WAYBILL_MONTHS, mechanism="shred",
    covers=("shipment_items.description",),
)
WAYBILL_RECORD = DataClass(
    name="waybill_record",
    what_en="The rest of a shipment's row, in clear: waybill number, times, masked names, the recipient "
            "phone's last four digits, province/city/district, and its items' categories and quantities. "
            "Not personal alone; personal joined to the rest of the waybill.",
    what_zh="运单记录（运单号、时间、脱敏姓名、电话后四位、省市区、物品类别与数量）",
    # 2014 rules: waybill numbers and times are user information; GB/T 27917 (part of the electronic waybill).
    default_months=ELECTRONIC_WAYBILL_MONTHS, minimum_months=ELECTRONIC_WAYBILL_MONTHS, mechanism="delete",
    covers=("shipments.waybill_no", "shipments.created_at", "shipments.delivered_at",
            "shipments.sender_name_masked", "shipments.recipient_name_masked", "shipments.recipient_phone_tail",
            "shipments.recipient_province", "shipments.recipient_city", "shipments.recipient_district",
            "shipment_items.category", "shipment_items.quantity", "shipment_items.declared_value_cents",
            "shipment_assignments"),
)
REALNAME_RECORD = DataClass(
    name="realname_record",
    what_en="The carrier's real-name record of a parcel's sender: document type, masked number and name, and "
            "the keyed blind index (the sealed document is already gone at the regulator's receipt).",
    what_zh="实名收寄记录（证件类型、脱敏证件号与姓名、盲索引）",
    # 快递暂行条例 art. 22 (the registration of the sender is part of taking the parcel in); kept with the
    # waybill it belongs to (GB/T 27917). PIPL art. 28: the ID number itself is never here, only masked
    # and as an HMAC; the sealed copy is deleted when the regulator's receipt names it (a record the
    # regulator rejected keeps it until this class's retention is over).
    default_months=ELECTRONIC_WAYBILL_MONTHS, minimum_months=ELECTRONIC_WAYBILL_MONTHS, mechanism="delete",
    covers=("realname_records.doc_masked", "realname_records.name_masked", "realname_records.blind_index",
            "realname_records.sealed"),
)
SCAN_EVENT = DataClass(
    name="scan_event",
    what_en="What happened to a parcel, where, when and by whom (picked up, sorted, out for delivery, ...). "
            "Not personal alone; personal joined to the waybill.",
    what_zh="扫描事件（物流轨迹）",
    # 2014 rules: a waybill's times are user information; the track is the electronic record of the service
    # performed, which a complaint or a claim needs as long as the waybill is kept (GB/T 27917).
    default_months=ELECTRONIC_WAYBILL_MONTHS, minimum_months=ELECTRONIC_WAYBILL_MONTHS, mechanism="delete",
    covers=("scan_events",),
)

# -- shorter: evidence that serves one dispute, and the sender's standing registration --------------------

INSPECTION_PHOTO = DataClass(
    name="inspection_photo",
    what_en="Photos taken when the courier opened and checked a parcel (the record that it was inspected, by "
            "whom and when, stays with the waybill record).",
    what_zh="开箱验视照片",
    # PIPL art. 19 (shortest necessary). No rule asks for the photos, only for the inspection (recorded on
    # the shipment). A photo is the most revealing thing the carrier keeps (the contents, often a face or a
    # document in the frame) and serves one purpose: a claim or complaint about the contents, raised during
    # the journey or soon after delivery. 6 months covers the journey (a label token lives 30 days), the
    # complaint, its escalation to the postal administration and the claim's settlement; 3 months at least,
    # so a complaint made at delivery can still be answered.
    default_months=6, minimum_months=3, mechanism="shred",
    covers=("inspection_photos.image", "inspection_photos"),
)
CALL_RECORD = DataClass(
    name="call_record",
    what_en="Calls through a parcel's virtual number: when, how long, the outcome (never a phone number), "
            "and the released bindings of virtual numbers to shipments.",
    what_zh="隐私号通话记录与号码绑定",
    # PIPL art. 19. A call record answers one question: did the courier try to reach the recipient, and when
    # ("nobody called me"). That is disputed at delivery or soon after: 6 months, as the inspection photos,
    # covers a complaint and its escalation; 3 months at least. Live bindings are released at delivery plus
    # the grace period (privacy_numbers); only released ones are covered here.
    default_months=6, minimum_months=3, mechanism="delete",
    covers=("call_records", "number_bindings"),
)
REALNAME_REGISTRATION = DataClass(
    name="realname_registration",
    what_en="A sender's own real-name registration (the real-name QR): name and phone encrypted, with its "
            "masked document, blind index, sealed document, phone HMAC and SMS codes.",
    what_zh="寄件人实名注册信息（实名码）",
    # PIPL art. 19 and art. 28 (the registration stands for an ID document: shortest necessary). No rule
    # asks the carrier to keep it: each parcel's own real-name record and its copy of the name and phone
    # (moved to the shipment at intake, under the shipment's classes) are kept with the waybill. A year lets
    # a regular sender use the QR without showing the ID again, and makes everyone re-prove document and
    # phone once a year (a document expires, a number changes hands). At least one month.
    default_months=12, minimum_months=1, mechanism="shred",
    covers=("realname_registrations.name", "realname_registrations.phone",
            "realname_registrations.doc_masked", "realname_registrations.name_masked",
            "realname_registrations.blind_index", "realname_registrations.sealed",
            "realname_registrations.phone_mac", "realname_codes"),
)

# -- artefacts and records kept elsewhere ---------------------------------------------------------------

LABEL_TOKEN = DataClass(
    name="label_token",
    what_en="The signed token in a label's QR code and the random label subject it names. The token holds "
            "nothing personal; joined to the shipment it names, it is a way to the waybill.",
    what_zh="面单二维码令牌",
    # A token stops verifying for delivery after 30 days (crypto.tokens, kind `label`); an investigator's
    # found label verifies at any age as long as the signing key version that signed it is kept. Default:
    # as long as the waybill it leads to (GB/T 27917); at least 1 month, the token's own lifetime.
    default_months=ELECTRONIC_WAYBILL_MONTHS, minimum_months=1, mechanism="expire",
    covers=("label tokens printed in labels' QR codes (crypto.tokens kind label)",
            "the signing key versions of purpose label_tokens in crypto_signing_keys", "shipments.label_subject"),
)
AUDIT_DETAIL = DataClass(
    name="audit_detail",
    what_en="Encrypted detail of audit log entries that would name a subject. None today: an entry holds "
            "ids and words only (the staff member's account id, the subject as `shipment:<id>`, `user:<id>`, "
            "`label:<random id>` or `waybill:unmatched`, field names, purpose, decision, times), never "
            "plaintext and never a ciphertext. Entries and their hashes stay, so the log keeps verifying.",
    what_zh="审计日志中指名主体的加密详情（目前无）",
    # 网络安全法 art. 21: network logs at least 6 months. Default: as long as the waybill the entries are
    # about (who looked at it is asked while it exists; GB/T 27917).
    default_months=ELECTRONIC_WAYBILL_MONTHS, minimum_months=6, mechanism="shred",
    covers=("encrypted detail inside audit_entries.entry (none is written today)",),
)
REGULATOR_RECORD = DataClass(
    name="regulator_record",
    what_en="The regulator platform's received real-name records: the opened document (type, number, name, "
            "an organisation's responsible person) encrypted at rest under the platform's own keys, its "
            "blind indexes, and the waybill number, station and region beside it.",
    what_zh="监管平台接收的实名收寄信息",
    # PIPL art. 19 and art. 28. The record answers "who sent waybill X" for as long as the carrier keeps
    # waybill X (GB/T 27917), no longer by default. The platform applies it itself
    # (`regulator.platform.retention`): a month's record keys destroyed and its rows deleted together.
    default_months=ELECTRONIC_WAYBILL_MONTHS, minimum_months=ELECTRONIC_WAYBILL_MONTHS, mechanism="delete",
    covers=("received_records.payload", "received_records.document_index", "received_records.responsible_index",
            "received_records.waybill_no", "received_records.station", "received_records.region"),
)

LEGAL_HOLD = DataClass(
    name="legal_hold",
    what_en="The encrypted values of parcels under a legal hold on an investigation case: moved here from their "
            "own classes when the hold is placed, so shredding those classes' months passes them by. A month of "
            "this class goes when its retention is over and no hold that is still in force moved data into it.",
    what_zh="依法保全（案件冻结）的邮件个人信息",
    # The hold lasts as long as the case needs; once released, the values are kept no longer than a waybill's
    # data would be (GB/T 27917), counted from the month they were moved.
    default_months=ELECTRONIC_WAYBILL_MONTHS, minimum_months=1, mechanism="shred",
    covers=("shipments.sender_name", "shipments.sender_address", "shipments.sender_phone", "shipments.recipient_name",
            "shipments.recipient_phone", "shipments.recipient_address", "shipment_items.description"),
)

CLASSES: dict[str, DataClass] = {c.name: c for c in (
    RECIPIENT_CONTACT, SENDER_CONTACT, SENDER_PHONE, ITEM_DESCRIPTION, WAYBILL_RECORD, REALNAME_RECORD, SCAN_EVENT,
    INSPECTION_PHOTO, CALL_RECORD, REALNAME_REGISTRATION, LABEL_TOKEN, AUDIT_DETAIL, REGULATOR_RECORD, LEGAL_HOLD,
)}

# The electronic waybill (GB/T 27917: at least 2 years, whatever a carrier sets).
ELECTRONIC_WAYBILL: tuple[DataClass, ...] = (RECIPIENT_CONTACT, SENDER_CONTACT, SENDER_PHONE, ITEM_DESCRIPTION,
                                             WAYBILL_RECORD, REALNAME_RECORD, SCAN_EVENT)

# -- legacy names -----------------------------------------------------------------------------------------
# Data keys made before the classes above carry the coarse names the code used then; databases hold them
# (crypto_data_keys.data_class) and ciphertexts under them still open (decryption goes by key id). A key of
# a legacy name may go only when everything it holds may: what each held, and the longest of those.

LEGACY_HELD: dict[str, tuple[DataClass, ...]] = {
    # shipments/service.py: all six party fields and the item descriptions
    "waybill": (RECIPIENT_CONTACT, SENDER_CONTACT, SENDER_PHONE, ITEM_DESCRIPTION),
    # identity/service.py: registrations' name and phone
    "realname": (REALNAME_REGISTRATION,),
    # shipments/photos.py
    "inspection": (INSPECTION_PHOTO,),
    # Keyring.encrypt's default: no call site in src/ ever used it, so what it holds is unknown: it could be
    # anything encrypted, and may go only when every encrypted class may.
    "default": tuple(c for c in CLASSES.values() if c.mechanism == "shred"),
}


def _longest(held: tuple[DataClass, ...]) -> DataClass:
    # max() keeps the first of equals: the order above decides a tie
    return max(held, key=lambda c: (c.default_months, c.minimum_months))


LEGACY: dict[str, DataClass] = {name: _longest(held) for name, held in LEGACY_HELD.items()}


def class_of(data_class: str) -> DataClass:
    """The class whose retention applies to data keys named `data_class`: a registered class, or a legacy
    name's (`LEGACY`). KeyError for a name that is neither."""
    found = CLASSES.get(data_class) or LEGACY.get(data_class)
    if found is None:
        raise KeyError(f"no data class is named {data_class!r}")
    return found


__all__ = [
    "AUDIT_DETAIL",
    "CALL_RECORD",
    "CLASSES",
    "ELECTRONIC_WAYBILL",
    "ELECTRONIC_WAYBILL_MONTHS",
    "INSPECTION_PHOTO",
    "ITEM_DESCRIPTION",
    "LABEL_TOKEN",
    "LEGACY",
    "LEGACY_HELD",
    "LEGAL_HOLD",
    "MECHANISMS",
    "REALNAME_RECORD",
    "REALNAME_REGISTRATION",
    "RECIPIENT_CONTACT",
    "REGULATOR_RECORD",
    "SCAN_EVENT",
    "SENDER_CONTACT",
    "SENDER_PHONE",
    "WAYBILL_RECORD",
    "DataClass",
    "Mechanism",
    "class_of",
    "columns_of",
]


def columns_of(data_class: str) -> list[str]:
    """The `table.column` places whose values a data key of `data_class` (a legacy name too) may have encrypted:
    where a destruction counts what it destroyed."""
    held = LEGACY_HELD.get(data_class) or (class_of(data_class),)
    return sorted({place for c in held if c.mechanism == "shred" for place in c.covers
                   if place.count(".") == 1 and " " not in place})
