"""Identity documents (身份证件) at real-name intake: parse, check, mask and normalise their numbers.

Pure functions: no database, no HTTP. `parse` returns a `Document` or raises `InvalidDocument`, whose
`code` is a stable reason (`id_check_digit`, `uscc_format`, ...) and whose message is fixed text: a
number never appears in an error, a repr or a log line. `Document` prints in its masked form.

The document types are those the 2018 real-name rules (邮件快件实名收寄管理办法) accept, plus the
unified social credit code organisations register with. docs/intake.md, "Documents accepted", has the
table of formats, checks, masked forms and reason codes.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta, timezone
from enum import StrEnum

from parcelguard.core.clock import now
from parcelguard.core.errors import Invalid
from parcelguard.crypto.blind_index import normalise_id_number
from parcelguard.crypto.types import Masked
from parcelguard.identity.regions import region_codes


class DocType(StrEnum):
    """Document types, by stable code (stored, sent to the regulator, matched by clients)."""

    RESIDENT_ID = "resident_id"  # 居民身份证
    TEMPORARY_RESIDENT_ID = "temporary_resident_id"  # 临时居民身份证
    HMT_RESIDENCE_PERMIT = "hmt_residence_permit"  # 港澳台居民居住证
    FOREIGN_PERMANENT_RESIDENT_ID = "foreign_permanent_resident_id"  # 外国人永久居留身份证
    HK_MACAO_TRAVEL_PERMIT = "hk_macao_travel_permit"  # 港澳居民来往内地通行证 (回乡证)
    TAIWAN_TRAVEL_PERMIT = "taiwan_travel_permit"  # 台湾居民来往大陆通行证 (台胞证)
    MILITARY_OFFICER_ID = "military_officer_id"  # 军官证
    ARMED_POLICE_OFFICER_ID = "armed_police_officer_id"  # 武警警官证
    FOREIGN_PASSPORT = "foreign_passport"  # 外国护照
    USCC = "uscc"  # 统一社会信用代码 (organisations)


class Reason(StrEnum):
    """Why a number was refused: stable codes that tests and clients match on."""

    ID_LENGTH = "id_length"
    ID_FORMAT = "id_format"
    ID_CHECK_DIGIT = "id_check_digit"
    ID_BIRTH_DATE = "id_birth_date"
    ID_REGION = "id_region"
    ID_TYPE_UNKNOWN = "id_type_unknown"
    ID_TYPE_INVALID = "id_type_invalid"
    USCC_LENGTH = "uscc_length"
    USCC_FORMAT = "uscc_format"
    USCC_CHECK_DIGIT = "uscc_check_digit"


MESSAGES: dict[Reason, str] = {
    Reason.ID_LENGTH: "The document number has the wrong length for its type.",
    Reason.ID_FORMAT: "The document number has characters or a layout its type does not allow.",
    Reason.ID_CHECK_DIGIT: "The document number's check character does not match: it was probably mistyped.",
    Reason.ID_BIRTH_DATE: "The birth date in the document number is not a real date, is before 1900 or is "
                          "in the future.",
    Reason.ID_REGION: "The region code in the document number is not one this document type can carry.",
    Reason.ID_TYPE_UNKNOWN: "The document type cannot be told from the number: give the type.",
    Reason.ID_TYPE_INVALID: "This document type is not one parcelguard accepts. The types are: "
                            + ", ".join(DocType) + ".",
    Reason.USCC_LENGTH: "A unified social credit code has 18 characters.",
    Reason.USCC_FORMAT: "A unified social credit code uses 0-9 and the capital letters A-Y except I, O, S, "
                        "V and Z, with digits in positions 3 to 8.",
    Reason.USCC_CHECK_DIGIT: "The unified social credit code's check character does not match: it was "
                             "probably mistyped.",
}


class InvalidDocument(Invalid):
    """A number that is not a valid document of its type. Says why (`reason`), never what the number was.
    `part` is what is wrong: the `number`, or the `type` given (`id_type_invalid`)."""

    def __init__(self, reason: Reason, *, doc_type: DocType | None = None, field: str | None = None,
                 detail: str | None = None) -> None:
        super().__init__(detail or MESSAGES[reason], code=reason.value, field=field)
        self.reason = reason
        self.doc_type = doc_type
        self.part = "type" if reason is Reason.ID_TYPE_INVALID else "number"


def _type_invalid(given: str) -> InvalidDocument:
    """A type that is none of ours. The message may name the type of ours closest to what was given
    (`passport`: did you mean `foreign_passport`?); it never repeats what was given."""
    close = difflib.get_close_matches(given.strip().lower().replace("-", "_").replace(" ", "_"),
                                      list(DocType), n=1, cutoff=0.6)
    hint = f" Did you mean {close[0]}?" if close else ""
    return InvalidDocument(Reason.ID_TYPE_INVALID, detail=MESSAGES[Reason.ID_TYPE_INVALID] + hint)


@dataclass(frozen=True, slots=True, repr=False)
class Document:
    """A checked document number. `number` is personal data in canonical form: seal it, never print it.

    `repr()` and `str()` show the type and the masked form only.
    """

    doc_type: DocType
    number: str
    birth_date: date | None = None
    region_code: str | None = None
    entered_as_15_digits: bool = False  # a first-generation (GB 11643-1989) number, stored as 18 digits

    @property
    def masked(self) -> Masked:
        return mask(self)

    @property
    def normalised(self) -> str:
        """The form the blind index hashes: equal for every way the same document can be typed."""
        return _index_form(self)

    @property
    def index_key(self) -> str:
        """`family:normalised`, for a blind index across types: a resident ID and a temporary ID carry
        the same citizen number, so both are `citizen:<number>`; other types are their own family."""
        family = "citizen" if self.doc_type in _CITIZEN_TYPES else self.doc_type.value
        return f"{family}:{self.normalised}"

    def __repr__(self) -> str:
        return f"Document({self.doc_type.value}, {mask(self)})"

    __str__ = __repr__


# -- normalising input ----------------------------------------------------------------------------

MAX_INPUT = 64  # longer than any document number; a longer input is refused before any parsing


def clean(number: str) -> str:
    """Input as typed to one canonical string: full-width forms to ASCII (NFKC), white space removed,
    capital letters (the GB 11643 check character `x` becomes `X`). A superset of the blind index's
    `normalise_id_number`, which it calls last, so both agree on every ASCII input."""
    return normalise_id_number(unicodedata.normalize("NFKC", number))


# -- check characters -----------------------------------------------------------------------------

# GB 11643-1999 §7 (ISO 7064 MOD 11-2): weight of position i (1..17) is 2^(18-i) mod 11.
_ID_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
_ID_CHECK = "10X98765432"  # index: weighted sum mod 11


def id_check_character(body: str) -> str:
    """The check character of 17 digits (GB 11643-1999, ISO 7064 MOD 11-2)."""
    return _ID_CHECK[sum(int(c) * w for c, w in zip(body, _ID_WEIGHTS, strict=True)) % 11]


# GB 32100-2015 §4.5: 31 characters (no I, O, S, V, Z); weight of position i is 3^(i-1) mod 31;
# check value = 31 - (weighted sum mod 31), 31 written as 0.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {c: i for i, c in enumerate(USCC_ALPHABET)}
_USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))


def uscc_check_character(body: str) -> str:
    """The check character of the first 17 characters of a unified social credit code (GB 32100-2015)."""
    total = sum(_USCC_VALUE[c] * w for c, w in zip(body, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def _icao_check_digit(body: str) -> str:
    """ICAO Doc 9303 part 3 §4.9: weights 7, 3, 1 repeating; digits at face value, A-Z as 10-35."""
    values = (int(c) if c.isdigit() else ord(c) - ord("A") + 10 for c in body)
    return str(sum(v * (7, 3, 1)[i % 3] for i, v in enumerate(values)) % 10)


def to_18_digits(number15: str) -> str:
    """A first-generation 15-digit number (GB 11643-1989: YYMMDD, no check character) as 18 digits:
    century 19 inserted, check character appended. The number must be 15 ASCII digits."""
    if not _DIGITS15.fullmatch(number15):
        raise InvalidDocument(Reason.ID_FORMAT, doc_type=DocType.RESIDENT_ID)
    body = number15[:6] + "19" + number15[6:]
    return body + id_check_character(body)


# -- the document types ---------------------------------------------------------------------------

_ID18 = re.compile(r"[0-9]{17}[0-9X]")
_DIGITS15 = re.compile(r"[0-9]{15}")
_FPR2017 = re.compile(r"[A-Z]{3}[0-9]{12}")
_FPR2023 = re.compile(r"9[0-9]{16}[0-9X]")
_HK_MACAO = re.compile(r"[HM][0-9]{8}(?:[0-9]{2})?")
_TAIWAN = re.compile(r"(?P<digits>[0-9]+)(?:\((?P<letter>[A-Z])\)|(?P<bare>[A-Z]))?")
_MILITARY = re.compile(r"(?P<head>[\u4e00-\u9fff]{1,6}?)(?P<digits>[0-9]+)号?")
_PASSPORT = re.compile(r"[A-Z0-9]+")
_USCC = re.compile(r"[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}")

# Region prefixes no mainland resident ID carries: Taiwan (GB/T 2260 710000) and the prefixes the
# HK/Macao/Taiwan residence permits use instead of a county (810000, 820000, 830000).
_NOT_MAINLAND = ("71", "81", "82", "83")
_PERMIT_REGIONS = ("810000", "820000", "830000")
_CHINA = timezone(timedelta(hours=8))  # birth dates are Beijing dates; China keeps no summer time


def _today() -> date:
    return now().astimezone(_CHINA).date()


def _birth_date(text: str, today: date, doc_type: DocType) -> date:
    try:
        born = date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        raise InvalidDocument(Reason.ID_BIRTH_DATE, doc_type=doc_type) from None
    if born.year < 1900 or born > today:
        raise InvalidDocument(Reason.ID_BIRTH_DATE, doc_type=doc_type)
    return born


def _mainland_region(code: str, doc_type: DocType) -> None:
    if code[:2] in _NOT_MAINLAND or code not in region_codes():
        raise InvalidDocument(Reason.ID_REGION, doc_type=doc_type)


def _citizen_number(s: str, today: date, doc_type: DocType) -> Document:
    """居民身份证 and 临时居民身份证: the same 公民身份号码 (GB 11643-1999), 15-digit legacy numbers too."""
    legacy = len(s) == 15
    if legacy:
        if not _DIGITS15.fullmatch(s):
            raise InvalidDocument(Reason.ID_FORMAT, doc_type=doc_type)
        s = to_18_digits(s)
    elif len(s) != 18:
        raise InvalidDocument(Reason.ID_LENGTH, doc_type=doc_type)
    elif not _ID18.fullmatch(s):
        raise InvalidDocument(Reason.ID_FORMAT, doc_type=doc_type)
    elif id_check_character(s[:17]) != s[17]:
        raise InvalidDocument(Reason.ID_CHECK_DIGIT, doc_type=doc_type)
    born = _birth_date(s[6:14], today, doc_type)
    _mainland_region(s[:6], doc_type)
    return Document(doc_type, s, born, s[:6], entered_as_15_digits=legacy)


def _residence_permit(s: str, today: date, doc_type: DocType) -> Document:
    """港澳台居民居住证 (2018): a citizen-style number whose region is 810000, 820000 or 830000."""
    if len(s) != 18:
        raise InvalidDocument(Reason.ID_LENGTH, doc_type=doc_type)
    if not _ID18.fullmatch(s):
        raise InvalidDocument(Reason.ID_FORMAT, doc_type=doc_type)
    if id_check_character(s[:17]) != s[17]:
        raise InvalidDocument(Reason.ID_CHECK_DIGIT, doc_type=doc_type)
    born = _birth_date(s[6:14], today, doc_type)
    if s[:6] not in _PERMIT_REGIONS:
        raise InvalidDocument(Reason.ID_REGION, doc_type=doc_type)
    return Document(doc_type, s, born, s[:6])


def _permanent_resident(s: str, today: date, doc_type: DocType) -> Document:
    """外国人永久居留身份证, both cards in use.

    2017 card, 15 characters: ISO 3166-1 alpha-3 nationality, 4-digit code of the accepting
    authority (province + city), birth date YYMMDD, 1-digit sequence, an ICAO 9303 check digit.
    Card issued since 2023-12-01, 18 digits: `9`, 2-digit province of acceptance, 3-digit ISO 3166-1
    numeric nationality, birth date YYYYMMDD, 3-digit sequence, MOD 11-2 check as GB 11643.
    Nationality codes are not checked against a list (the check character catches a typo there).
    """
    if len(s) == 15:
        if not _FPR2017.fullmatch(s):
            raise InvalidDocument(Reason.ID_FORMAT, doc_type=doc_type)
        if _icao_check_digit(s[:14]) != s[14]:
            raise InvalidDocument(Reason.ID_CHECK_DIGIT, doc_type=doc_type)
        born = _two_digit_year_birth_date(s[7:13], today, doc_type)
        _mainland_region(s[3:5] + "0000", doc_type)
        return Document(doc_type, s, born, s[3:5] + "0000")
    if len(s) != 18:
        raise InvalidDocument(Reason.ID_LENGTH, doc_type=doc_type)
    if not _FPR2023.fullmatch(s):
        raise InvalidDocument(Reason.ID_FORMAT, doc_type=doc_type)
    if id_check_character(s[:17]) != s[17]:
        raise InvalidDocument(Reason.ID_CHECK_DIGIT, doc_type=doc_type)
    born = _birth_date(s[6:14], today, doc_type)
    _mainland_region(s[1:3] + "0000", doc_type)
    return Document(doc_type, s, born, s[1:3] + "0000")


def _two_digit_year_birth_date(yymmdd: str, today: date, doc_type: DocType) -> date:
    """The latest real date in 1900-today that YYMMDD can be (20YY first, then 19YY)."""
    for century in ("20", "19"):
        try:
            return _birth_date(century + yymmdd, today, doc_type)
        except InvalidDocument:
            continue
    raise InvalidDocument(Reason.ID_BIRTH_DATE, doc_type=doc_type)


def _hk_macao_permit(s: str, today: date, doc_type: DocType) -> Document:
    """回乡证: H (Hong Kong) or M (Macao), the holder's 8-digit lifetime number, and on older
    permits 2 more digits counting the issues. Format check only."""
    if len(s) not in (9, 11):
        raise InvalidDocument(Reason.ID_LENGTH, doc_type=doc_type)
    if not _HK_MACAO.fullmatch(s):
        raise InvalidDocument(Reason.ID_FORMAT, doc_type=doc_type)
    return Document(doc_type, s)


def _taiwan_permit(s: str, today: date, doc_type: DocType) -> Document:
    """台胞证: 8 digits on the card issued since 2015; 10 digits and an issue letter, often written in
    brackets (`1234567890(B)`), on the older booklet. Format check only."""
    match = _TAIWAN.fullmatch(s)
    if match is None:
        raise InvalidDocument(Reason.ID_FORMAT, doc_type=doc_type)
    digits, letter = match["digits"], match["letter"] or match["bare"]
    if len(digits) not in (8, 10) or (letter and len(digits) != 10):
        raise InvalidDocument(Reason.ID_LENGTH, doc_type=doc_type)
    return Document(doc_type, digits + (f"({letter})" if letter else ""))


def _officer_id(s: str, today: date, doc_type: DocType) -> Document:
    """军官证 / 武警警官证: a word naming the issuing branch or region (南, 军, 武, ...), usually
    written `X字第NNNNNNN号`; stored in that form whichever way it was typed. Format check only."""
    match = _MILITARY.fullmatch(s)
    if match is None:
        raise InvalidDocument(Reason.ID_FORMAT, doc_type=doc_type)
    head = match["head"].removesuffix("字第")
    if not head or "字" in head or "第" in head:
        raise InvalidDocument(Reason.ID_FORMAT, doc_type=doc_type)
    if not 6 <= len(match["digits"]) <= 10:
        raise InvalidDocument(Reason.ID_LENGTH, doc_type=doc_type)
    return Document(doc_type, f"{head}字第{match['digits']}号")


def _passport(s: str, today: date, doc_type: DocType) -> Document:
    """A foreign passport number (ICAO 9303 document number): 5-17 capital letters and digits, with
    at least one digit; MRZ filler `<` is dropped. Format check only: each state has its own rules."""
    s = s.rstrip("<")
    if not 5 <= len(s) <= 17:
        raise InvalidDocument(Reason.ID_LENGTH, doc_type=doc_type)
    if not _PASSPORT.fullmatch(s) or not any(c.isdigit() for c in s):
        raise InvalidDocument(Reason.ID_FORMAT, doc_type=doc_type)
    return Document(doc_type, s)


def _uscc(s: str, today: date, doc_type: DocType) -> Document:
    """统一社会信用代码 (GB 32100-2015): registration authority, organisation type, 6-digit region of
    the registering office, 9-character organisation code, check character (MOD 31)."""
    if len(s) != 18:
        raise InvalidDocument(Reason.USCC_LENGTH, doc_type=doc_type)
    if not _USCC.fullmatch(s):
        raise InvalidDocument(Reason.USCC_FORMAT, doc_type=doc_type)
    if uscc_check_character(s[:17]) != s[17]:
        raise InvalidDocument(Reason.USCC_CHECK_DIGIT, doc_type=doc_type)
    return Document(doc_type, s, None, s[2:8])


_CITIZEN_TYPES = (DocType.RESIDENT_ID, DocType.TEMPORARY_RESIDENT_ID)

_PARSERS = {
    DocType.RESIDENT_ID: _citizen_number,
    DocType.TEMPORARY_RESIDENT_ID: _citizen_number,
    DocType.HMT_RESIDENCE_PERMIT: _residence_permit,
    DocType.FOREIGN_PERMANENT_RESIDENT_ID: _permanent_resident,
    DocType.HK_MACAO_TRAVEL_PERMIT: _hk_macao_permit,
    DocType.TAIWAN_TRAVEL_PERMIT: _taiwan_permit,
    DocType.MILITARY_OFFICER_ID: _officer_id,
    DocType.ARMED_POLICE_OFFICER_ID: _officer_id,
    DocType.FOREIGN_PASSPORT: _passport,
    DocType.USCC: _uscc,
}


# -- detecting the type ---------------------------------------------------------------------------

_CITIZEN_LIKE = re.compile(r"[0-9]{10,20}X?")
_ID_SHAPE = re.compile(r"[0-9]{17}[0-9A-Z]")  # a citizen number, or a USCC that is all digits but the last
_TAIWAN_SHAPE = re.compile(r"[0-9]{8}|[0-9]{10}(?:\([A-Z]\)|[A-Z])?")
_USCC_SHAPE = re.compile(r"[0-9A-Z]{18}")
_CITIZEN_HEAD = re.compile(r"[0-9]{14}[0-9A-Z]{4}")  # a region code and a birth date, then anything


def _citizen_head(s: str) -> bool:
    """18 characters that open with a region code and a real birth date (1900-2099): a citizen number,
    mistyped if a letter follows, rather than a USCC (whose third to eighth characters are a region)."""
    if not _CITIZEN_HEAD.fullmatch(s) or s[:6] not in region_codes():
        return False
    try:
        return 1900 <= date(int(s[6:10]), int(s[10:12]), int(s[12:14])).year <= 2099
    except ValueError:
        return False


def _candidates(s: str) -> tuple[DocType, ...]:
    """The types a cleaned number can be, most likely first. Foreign passports and temporary IDs
    (whose numbers are citizen numbers) are never guessed: they need the type."""
    if _ID_SHAPE.fullmatch(s):
        first = (DocType.HMT_RESIDENCE_PERMIT if s[:6] in _PERMIT_REGIONS else
                 DocType.FOREIGN_PERMANENT_RESIDENT_ID if s[0] == "9" else DocType.RESIDENT_ID)
        return first, DocType.USCC  # an all-digit USCC that is not a valid ID number
    if _TAIWAN_SHAPE.fullmatch(s):
        return (DocType.TAIWAN_TRAVEL_PERMIT,)
    if _CITIZEN_LIKE.fullmatch(s):  # 15 digits, or a citizen number with digits missing or extra
        return (DocType.RESIDENT_ID,)
    if _FPR2017.fullmatch(s):
        return (DocType.FOREIGN_PERMANENT_RESIDENT_ID,)
    if _citizen_head(s):  # a letter among the last four: a mistyped citizen number, or a USCC
        return DocType.RESIDENT_ID, DocType.USCC
    if _HK_MACAO.fullmatch(s):
        return (DocType.HK_MACAO_TRAVEL_PERMIT,)
    if _USCC_SHAPE.fullmatch(s):
        return (DocType.USCC,)
    if s[:1] and "\u4e00" <= s[0] <= "\u9fff":
        return (DocType.ARMED_POLICE_OFFICER_ID if s[0] == "武" else DocType.MILITARY_OFFICER_ID,)
    return ()


def detect(number: str) -> DocType:
    """The type a number has by its shape alone (see `parse`); `id_type_unknown` when none fits."""
    found = _candidates(clean(number))
    if not found:
        raise InvalidDocument(Reason.ID_TYPE_UNKNOWN)
    return found[0]


# -- the public functions -------------------------------------------------------------------------

def parse(number: str, doc_type: DocType | str | None = None, *, today: date | None = None) -> Document:
    """Check a document number and return it in canonical form, or raise `InvalidDocument`.

    With no type, the type is taken from the number's shape: 18 digits are a resident ID (a
    residence permit with region 810000/820000/830000, a permanent resident card when they start
    with 9); when they are no valid ID but a valid all-digit USCC, `id_type_unknown` asks for the
    type. 18 characters with letters are a USCC; 15 digits a legacy resident ID; 3 letters and 12
    digits a 2017 permanent resident card; H/M and 8 or 10 digits a 回乡证; 8 digits a 台胞证; a
    Chinese word and digits an officer's ID. Passports and temporary IDs need the type. `today`
    (default: today in Beijing) bounds birth dates.
    """
    if doc_type is not None and doc_type not in DocType.__members__.values():
        raise _type_invalid(str(doc_type))
    s = clean(number) if len(number) <= MAX_INPUT else None
    when = today or _today()
    if doc_type is not None:
        kind = DocType(doc_type)
        if s is None:
            raise InvalidDocument(Reason.USCC_LENGTH if kind is DocType.USCC else Reason.ID_LENGTH, doc_type=kind)
        return _PARSERS[kind](s, when, kind)
    if s is None:
        raise InvalidDocument(Reason.ID_LENGTH)
    candidates = _candidates(s)
    if not candidates:
        raise InvalidDocument(Reason.ID_TYPE_UNKNOWN)
    first, *others = candidates
    try:
        return _PARSERS[first](s, when, first)
    except InvalidDocument as exc:
        # 18 digits that are no valid ID but a valid (all-digit) USCC: ambiguous, since a mistyped ID
        # passes the USCC check one time in 31. Only a given type settles it.
        if any(is_valid(s, kind, today=when) for kind in others):
            raise InvalidDocument(Reason.ID_TYPE_UNKNOWN) from None
        raise exc from None


def is_valid(number: str, doc_type: DocType | str | None = None, *, today: date | None = None) -> bool:
    try:
        parse(number, doc_type, today=today)
    except InvalidDocument:
        return False
    return True


def normalise(number: str, doc_type: DocType | str) -> str:
    """The blind-index form of a number of a given type (`Document.normalised`); checks it first.

    Resident and temporary IDs share the citizen number, so both give the same form, and a 15-digit
    legacy number gives its 18-digit form. A 回乡证 gives its 9-character lifetime part (letter and
    8 digits), a 台胞证 its digits, an officer's ID its `X字第NNNNNNN号` form; the others the number.
    """
    return parse(number, doc_type).normalised


def _index_form(document: Document) -> str:
    if document.doc_type is DocType.HK_MACAO_TRAVEL_PERMIT:
        return document.number[:9]
    if document.doc_type is DocType.TAIWAN_TRAVEL_PERMIT:
        return document.number.partition("(")[0]
    return document.number


def mask(document: Document) -> Masked:
    """The display form a carrier may keep and show (promise 2), one per type (docs/intake.md):

    18-character numbers (resident, temporary, residence permit, 2023 permanent resident card): the
    first 4 and last 4 characters, `1101**********002X`; the 2017 permanent resident card: nationality
    and last 2, `KAZ**********05`; 回乡证: the letter and last 3 of the lifetime number, `H*****678`;
    台胞证, passports: the last 3, `*****678`; officer IDs: the branch word and last 3 digits,
    `南字第****567号`; the USCC in full: it is public, printed on the business licence.
    """
    n, kind = document.number, document.doc_type
    if kind is DocType.USCC:
        return Masked(n)
    if kind in (DocType.MILITARY_OFFICER_ID, DocType.ARMED_POLICE_OFFICER_ID):
        head, _, rest = n.partition("字第")
        digits = rest.removesuffix("号")
        return Masked(f"{head}字第{_stars(len(digits) - 3)}{digits[-3:]}号")
    if kind is DocType.HK_MACAO_TRAVEL_PERMIT:
        return Masked(n[0] + _stars(5) + n[6:9])
    if kind in (DocType.TAIWAN_TRAVEL_PERMIT, DocType.FOREIGN_PASSPORT):
        core = _index_form(document)
        return Masked(_stars(len(core) - 3) + core[-3:])
    if len(n) == 15:  # 2017 permanent resident card
        return Masked(n[:3] + _stars(10) + n[-2:])
    return Masked(n[:4] + _stars(10) + n[-4:])


def _stars(count: int) -> str:
    return "*" * count
