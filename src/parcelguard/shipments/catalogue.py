"""The prohibited and restricted items catalogue (禁寄/限寄物品) checked at real-name intake (收寄验视).

A catalogue is data (`data/prohibited.toml`, sources in `data/README.md`; later an admin-edited table):
item category codes, and rules that name a level (`prohibited`: refuse with `item_prohibited`;
`restricted`: accept only with a recorded inspection), the category codes they cover and keywords in
Chinese and English. `Catalogue.match(category, description)` returns the most severe rule an item
hits, naming the catalogue's own term, never the sender's text. `validate(data)` checks an edit before
it is used. Pure: no database, no HTTP.

Matching. Text and keywords go through one `normalise`: NFKC (full-width letters and digits, CJK
compatibility ideographs), casefold, every run of spaces and punctuation becomes one space, and a space
next to a Chinese character is dropped (so `炸 药`, `炸-药` and `炸　药` all read `炸药`). Chinese keywords
then match anywhere; English keywords match whole words only (`gun` hits `guns` and `gun-shaped`,
never `begun` or `shotgun`; `shotgun` is a keyword of its own), with simple plurals. A rule may list
`allow_*` phrases that contain one of its keywords but are not the thing (`象牙白`, `massage gun`).
One Aho-Corasick automaton over every keyword and phrase finds all of them, overlapping ones included,
in one pass over the text. Written here, not taken from `pyahocorasick`: 50 lines, no C extension to
build on a carrier's machine, and a description is at most a few hundred characters.
"""

from __future__ import annotations

import functools
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

from parcelguard.core.errors import FieldError, Invalid

DATA_FILE = "prohibited.toml"

Level = Literal["prohibited", "restricted"]
LEVELS: tuple[Level, ...] = ("prohibited", "restricted")  # most severe first
MatchedOn = Literal["category", "keyword"]

# The intake API's pattern for an item category (`schemas.ItemIn.category`): a code outside it could
# never be sent, so the catalogue may not define one.
CATEGORY_CODE = re.compile(r"^[a-z][a-z_]{0,31}$")
RULE_ID = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
MAX_KEYWORD = 40
MAX_LABEL = 100
MAX_TEXT = 500

_RULE_KEYS = frozenset({"id", "level", "label_zh", "label_en", "categories", "keywords_zh", "keywords_en",
                        "allow_zh", "allow_en", "reason", "source"})
_CATEGORY_KEYS = frozenset({"code", "label_zh", "label_en"})

# Han ideographs (the unified blocks and extension A to H); NFKC has already folded the compatibility
# ideographs and the Kangxi radicals into these.
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0003134f"
_IS_HAN = re.compile(f"[{_HAN}]")
_SEPARATORS = re.compile(r"[\W_]+")
_SPACE_BY_HAN = re.compile(f" (?=[{_HAN}])|(?<=[{_HAN}]) ")


class CategoryUnknown(Invalid):
    """`match` was given a category code the catalogue does not define. The caller checks
    `is_known_category` first and reports `category_unknown` at the item's pointer; if it forgets, this
    still becomes a 422, never a silent pass."""

    code = "category_unknown"

    def __init__(self) -> None:
        super().__init__("Not an item category this carrier accepts.")


class CatalogueInvalid(Invalid):
    """Catalogue data that `validate` refuses; `errors` holds every error, each with its pointer."""

    code = "catalogue_invalid"

    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__(f"The catalogue has {len(errors)} error(s).", errors=errors)


def normalise(text: str) -> str:
    """The form both descriptions and keywords are compared in (see the module docstring)."""
    text = _SEPARATORS.sub(" ", unicodedata.normalize("NFKC", text).casefold())
    return _SPACE_BY_HAN.sub("", text).strip()


@dataclass(frozen=True, slots=True)
class Category:
    """An item category code the intake API accepts, e.g. `clothing` (服装鞋帽)."""

    code: str
    label_zh: str
    label_en: str


@dataclass(frozen=True, slots=True)
class Rule:
    """One catalogue entry: a level, the categories it covers outright and the words that name it."""

    id: str
    level: Level
    label_zh: str
    label_en: str
    reason: str
    categories: tuple[str, ...] = ()
    keywords_zh: tuple[str, ...] = ()
    keywords_en: tuple[str, ...] = ()
    allow_zh: tuple[str, ...] = ()
    allow_en: tuple[str, ...] = ()
    source: str = ""


@dataclass(frozen=True, slots=True)
class Match:
    """The rule an item hit and the catalogue term that hit it: the category code or the keyword as the
    catalogue spells it. Never any part of the item's description."""

    rule_id: str
    level: Level
    matched_on: MatchedOn
    term: str

    def as_dict(self) -> dict[str, str]:
        """For a problem+json extension (`item_prohibited`) or the inspection record."""
        return {"rule": self.rule_id, "level": self.level, "matched_on": self.matched_on, "term": self.term}


# -- the automaton ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Pattern:
    text: str  # normalised, as it appears in normalised text
    term: str  # the keyword or phrase as the catalogue spells it
    rule: int  # index into Catalogue.rules
    allow: bool
    word_start: bool  # starts with a letter or digit: needs a word boundary before it
    word_end: bool


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() and not _IS_HAN.match(ch)


class _Automaton:
    """Aho-Corasick (1975): a trie of the patterns with failure links; every node carries the patterns
    that end there, its failure chain's included, so one pass reports every occurrence."""

    __slots__ = ("fail", "goto", "out")

    def __init__(self, patterns: Sequence[str]) -> None:
        self.goto: list[dict[str, int]] = [{}]
        out: list[list[int]] = [[]]
        for index, text in enumerate(patterns):
            node = 0
            for ch in text:
                nxt = self.goto[node].get(ch)
                if nxt is None:
                    nxt = len(self.goto)
                    self.goto[node][ch] = nxt
                    self.goto.append({})
                    out.append([])
                node = nxt
            out[node].append(index)
        self.fail = [0] * len(self.goto)
        queue = list(self.goto[0].values())
        for node in queue:  # breadth first: a node's failure target is always done before it
            for ch, child in self.goto[node].items():
                queue.append(child)
                f = self.fail[node]
                while f and ch not in self.goto[f]:
                    f = self.fail[f]
                target = self.goto[f].get(ch, 0)
                self.fail[child] = target if target != child else 0
                out[child].extend(out[self.fail[child]])
        self.out = [tuple(o) for o in out]

    def scan(self, text: str) -> Iterable[tuple[int, int]]:
        """(end index exclusive, pattern index) of every occurrence, overlapping ones included."""
        goto, fail, out = self.goto, self.fail, self.out
        node = 0
        for i, ch in enumerate(text):
            nxt = goto[node].get(ch)
            while nxt is None and node:
                node = fail[node]
                nxt = goto[node].get(ch)
            node = nxt or 0
            for p in out[node]:
                yield i + 1, p


def _english_forms(phrase: str) -> set[str]:
    """The phrase and simple plurals of its last word: gun/guns, box/boxes, battery/batteries,
    knife/knives. More forms cost nothing at match time; a missing one is a missed item."""
    head, _, last = phrase.rpartition(" ")
    forms = {last, last + "s", last + "es"}
    if last.endswith("y") and len(last) > 2:
        forms.add(last[:-1] + "ies")
    if last.endswith("fe"):
        forms.add(last[:-2] + "ves")
    elif last.endswith("f"):
        forms.add(last[:-1] + "ves")
    return {f"{head} {f}" if head else f for f in forms}


# -- the catalogue --------------------------------------------------------------------------------------

class Catalogue:
    """Categories and rules, compiled for matching; immutable. Build with `from_data` (which validates)
    or `default`; the constructor trusts its input."""

    __slots__ = ("_automaton", "_by_category", "_by_id", "_categories", "_patterns", "_rules")

    def __init__(self, categories: Sequence[Category], rules: Sequence[Rule]) -> None:
        self._categories = {c.code: c for c in categories}
        self._rules = tuple(rules)
        self._by_id = {r.id: r for r in self._rules}
        by_category: dict[str, list[int]] = {}
        for index, rule in enumerate(self._rules):
            for code in rule.categories:
                by_category.setdefault(code, []).append(index)
        self._by_category = {code: tuple(indexes) for code, indexes in by_category.items()}
        patterns: list[_Pattern] = []
        for index, rule in enumerate(self._rules):
            for allow, words, english in ((False, rule.keywords_zh, False), (False, rule.keywords_en, True),
                                          (True, rule.allow_zh, False), (True, rule.allow_en, True)):
                for term in words:
                    text = normalise(term)
                    for form in sorted(_english_forms(text)) if english else (text,):
                        patterns.append(_Pattern(form, term, index, allow, _is_word_char(form[0]),
                                                 _is_word_char(form[-1])))
        self._patterns = tuple(patterns)
        self._automaton = _Automaton([p.text for p in patterns])

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Catalogue:
        """A catalogue from parsed data (the TOML file, or the admin table as the same shape); raises
        `CatalogueInvalid` with every error `validate` finds."""
        errors = validate(data)
        if errors:
            raise CatalogueInvalid(errors)
        categories = [Category(c["code"], c["label_zh"], c["label_en"]) for c in data["categories"]]
        rules = [Rule(id=r["id"], level=r["level"], label_zh=r["label_zh"], label_en=r["label_en"],
                      reason=r["reason"], source=r.get("source", ""),
                      **{k: tuple(r.get(k, ())) for k in ("categories", "keywords_zh", "keywords_en",
                                                          "allow_zh", "allow_en")})
                 for r in data["rules"]]
        return cls(categories, rules)

    @classmethod
    def default(cls) -> Catalogue:
        """The catalogue shipped with the package, compiled once per process."""
        return _default()

    # -- reading ---------------------------------------------------------------------------------------

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self._rules

    def rule(self, rule_id: str) -> Rule:
        """The rule of a `Match`, for its labels and reason; KeyError when the id is not in this catalogue."""
        return self._by_id[rule_id]

    def categories(self) -> tuple[Category, ...]:
        """Every category code the intake API accepts, with its labels, in catalogue order."""
        return tuple(self._categories.values())

    def is_known_category(self, code: str) -> bool:
        return code in self._categories

    # -- matching --------------------------------------------------------------------------------------

    def match(self, category: str, description: str) -> Match | None:
        """The most severe rule the item hits, or None. Prohibited beats restricted; within a level a
        keyword beats a category (it names the thing), then the earliest keyword in the description,
        then the longest (`lighter fluid` over `lighter`), then catalogue order.
        Raises `CategoryUnknown` for a code the catalogue does not define: fail closed."""
        if category not in self._categories:
            raise CategoryUnknown
        # (level, keyword first, position, longest first, catalogue order) -> the match
        found: list[tuple[tuple[int, int, int, int, int], Match]] = []
        for index in self._by_category.get(category, ()):
            rule = self._rules[index]
            found.append(((LEVELS.index(rule.level), 1, 0, 0, index),
                          Match(rule.id, rule.level, "category", category)))
        for start, end, pattern in self._occurrences(normalise(description)):
            rule = self._rules[pattern.rule]
            found.append(((LEVELS.index(rule.level), 0, start, start - end, pattern.rule),
                          Match(rule.id, rule.level, "keyword", pattern.term)))
        return min(found, key=lambda f: f[0])[1] if found else None

    def _occurrences(self, text: str) -> list[tuple[int, int, _Pattern]]:
        """Keyword occurrences at word boundaries where they need one, less those inside an allowed
        phrase of the same rule."""
        keywords: list[tuple[int, int, _Pattern]] = []
        allowed: list[tuple[int, int, int]] = []
        patterns = self._patterns
        for end, index in self._automaton.scan(text):
            pattern = patterns[index]
            start = end - len(pattern.text)
            if pattern.word_start and start > 0 and _is_word_char(text[start - 1]):
                continue
            if pattern.word_end and end < len(text) and _is_word_char(text[end]):
                continue
            if pattern.allow:
                allowed.append((start, end, pattern.rule))
            else:
                keywords.append((start, end, pattern))
        if allowed:
            keywords = [k for k in keywords
                        if not any(rule == k[2].rule and s <= k[0] and k[1] <= e for s, e, rule in allowed)]
        return keywords


def default_data() -> dict[str, Any]:
    """The shipped catalogue as data: what the admin table is seeded from."""
    text = resources.files(__package__).joinpath("data", DATA_FILE).read_text(encoding="utf-8")
    return tomllib.loads(text)


@functools.cache
def _default() -> Catalogue:
    return Catalogue.from_data(default_data())


# -- validation -------------------------------------------------------------------------------------------

def _pointer(*parts: str | int) -> str:
    """An RFC 6901 JSON pointer."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _keyword_problem(keyword: str, *, chinese: bool) -> tuple[str, str] | None:
    """Why a keyword or allowed phrase cannot be used, as (code, detail), or None when it can."""
    if not keyword.strip():
        return "keyword_too_short", "A keyword may not be empty."
    if len(keyword) > MAX_KEYWORD:
        return "field_length", f"At most {MAX_KEYWORD} characters."
    folded = normalise(keyword)
    if folded != keyword:
        return "keyword_not_normalised", f"Write it as it is compared: {folded!r}."
    han = sum(1 for ch in folded if _IS_HAN.match(ch))
    if chinese and not han:
        return "keyword_script", "A Chinese keyword needs at least one Chinese character."
    if not chinese and han:
        return "keyword_script", "An English keyword may not contain Chinese characters; list it under *_zh."
    if chinese and len(folded) < 2:
        return "keyword_too_short", "One Chinese character matches too much: use a word of two or more."
    alnum = folded.replace(" ", "")
    if not chinese and (len(alnum) < 3 or not any(ch.isalpha() for ch in alnum)):
        return "keyword_too_short", "At least three letters or digits, one of them a letter."
    return None


def validate(data: object) -> list[FieldError]:
    """Every error in catalogue data, each with a JSON pointer into it; an empty list means usable.

    Checks the shape, category codes (the API's pattern, no duplicates), rule ids (snake_case, unique),
    levels, labels and reasons, that a rule has keywords or categories, that its categories are
    defined, that keywords are normalised, long enough and in the right script, that no keyword is
    listed twice, and that every allowed phrase contains one of its rule's keywords."""
    errors: list[FieldError] = []

    def error(code: str, detail: str, *where: str | int) -> None:
        errors.append(FieldError(_pointer(*where), code, detail))

    def text_field(obj: Mapping[str, Any], key: str, limit: int, *where: str | int,
                   required: bool = True) -> None:
        if key not in obj:
            if required:
                error("field_missing", "Required.", *where, key)
        elif not isinstance(obj[key], str) or not obj[key].strip():
            error("field_type", "A non-empty string.", *where, key)
        elif len(obj[key]) > limit:
            error("field_length", f"At most {limit} characters.", *where, key)

    def string_list(obj: Mapping[str, Any], key: str, *where: str | int) -> list[str]:
        value = obj.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            error("field_type", "A list of strings.", *where, key)
            return []
        return value

    if not isinstance(data, Mapping):
        error("field_type", "The catalogue is an object with `categories` and `rules`.")
        return errors
    for key in data:
        if key not in ("categories", "rules"):
            error("field_unknown", "Only `categories` and `rules`.", str(key))

    codes: set[str] = set()
    categories = data.get("categories")
    if not isinstance(categories, list) or not categories:
        error("field_type", "A non-empty list of categories.", "categories")
        categories = []
    for i, category in enumerate(categories):
        if not isinstance(category, Mapping):
            error("field_type", "An object with code, label_zh and label_en.", "categories", i)
            continue
        for key in category:
            if key not in _CATEGORY_KEYS:
                error("field_unknown", "Not a category field.", "categories", i, str(key))
        code = category.get("code")
        if not isinstance(code, str) or not CATEGORY_CODE.fullmatch(code):
            error("category_code_format", "Lowercase letters and underscores, at most 32, starting with "
                  "a letter (the intake API's pattern).", "categories", i, "code")
        elif code in codes:
            error("category_duplicate", "This code is already defined.", "categories", i, "code")
        else:
            codes.add(code)
        for key in ("label_zh", "label_en"):
            text_field(category, key, MAX_LABEL, "categories", i)

    ids: set[str] = set()
    seen_keywords: dict[str, str] = {}  # normalised keyword -> the pointer that first listed it
    rules = data.get("rules")
    if not isinstance(rules, list):
        error("field_type", "A list of rules.", "rules")
        rules = []
    for i, rule in enumerate(rules):
        if not isinstance(rule, Mapping):
            error("field_type", "An object: id, level, labels, reason, categories and keywords.", "rules", i)
            continue
        for key in rule:
            if key not in _RULE_KEYS:
                error("field_unknown", "Not a rule field.", "rules", i, str(key))
        rule_id = rule.get("id")
        if not isinstance(rule_id, str) or not RULE_ID.fullmatch(rule_id):
            error("rule_id_format", "snake_case: lowercase letters, digits and underscores, 2 to 64, "
                  "starting with a letter.", "rules", i, "id")
        elif rule_id in ids:
            error("rule_id_duplicate", "Another rule has this id.", "rules", i, "id")
        else:
            ids.add(rule_id)
        if rule.get("level") not in LEVELS:
            error("level_unknown", "`prohibited` or `restricted`.", "rules", i, "level")
        for key, limit in (("label_zh", MAX_LABEL), ("label_en", MAX_LABEL), ("reason", MAX_TEXT)):
            text_field(rule, key, limit, "rules", i)
        text_field(rule, "source", MAX_TEXT, "rules", i, required=False)

        rule_categories = string_list(rule, "categories", "rules", i)
        for j, code in enumerate(rule_categories):
            if code not in codes:
                error("category_unknown", "Not a code in `categories`.", "rules", i, "categories", j)
        keywords: dict[str, list[str]] = {"keywords_zh": [], "keywords_en": []}
        for key, listed in keywords.items():
            for j, keyword in enumerate(string_list(rule, key, "rules", i)):
                problem = _keyword_problem(keyword, chinese=key.endswith("_zh"))
                if problem:
                    error(*problem, "rules", i, key, j)
                    continue
                if keyword in seen_keywords:
                    error("keyword_duplicate", f"Already listed at {seen_keywords[keyword]}.",
                          "rules", i, key, j)
                    continue
                seen_keywords[keyword] = _pointer("rules", i, key, j)
                listed.append(keyword)
        if not rule_categories and not any(rule.get(k) for k in ("keywords_zh", "keywords_en")):
            error("rule_empty", "A rule needs keywords or categories, or it never matches.", "rules", i)
        for key in ("allow_zh", "allow_en"):
            for j, phrase in enumerate(string_list(rule, key, "rules", i)):
                problem = _keyword_problem(phrase, chinese=key.endswith("_zh"))
                if problem:
                    error(*problem, "rules", i, key, j)
                elif not _contains_keyword(phrase, keywords["keywords_zh"], keywords["keywords_en"]):
                    error("allow_unused", "An allowed phrase must contain one of this rule's keywords; "
                          "otherwise it changes nothing.", "rules", i, key, j)
    return errors


def _contains_keyword(phrase: str, keywords_zh: Sequence[str], keywords_en: Sequence[str]) -> bool:
    """Would one of these keywords match inside `phrase`, by the same rules as a description?"""
    probe = Catalogue([], [Rule(id="probe", level="restricted", label_zh="", label_en="", reason="",
                                keywords_zh=tuple(keywords_zh), keywords_en=tuple(keywords_en))])
    return bool(probe._occurrences(phrase))
