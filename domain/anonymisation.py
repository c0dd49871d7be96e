"""Does supervision text name a person? One check for every free-text field of a personal record.

The policies ask that children and families are not identifiable in a personal supervision record:
bury "use initials or unique numbers rather than full names of service users", bcp "Case information
recorded for this purpose must be anonymous and relevant". What passes: initials ("J.S.", "JS"),
pseudonyms made of a descriptor and an initial or number ("Child A", "Baby J", "Sibling 2"), case
numbers. What is caught: first names and surnames (also in capitals, "JOHN", or with a number, "Tom 12"),
full names inside sentences, a title with a name ("Mrs Okafor"), a name after a family word ("her son
Kai"), and dates of birth ("DOB 01/02/2015").

Which words are names comes from a ``NameLexicon`` the caller passes in (infrastructure builds one from a
published name data set), so this module stays pure. Words that are names and ordinary English words
alike ("Hope", "May", "Mark", "Grace", "Green") count as names only where the words around them say so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from domain.errors import InvalidContent


class NameLexicon(Protocol):
    """Which words are people's names. Words are compared in lower case."""

    def is_given_name(self, word: str) -> bool: ...

    def is_surname(self, word: str) -> bool: ...

    def is_common_word(self, word: str) -> bool:
        """An ordinary English word too ("hope", "may", "green"): a name only in a name's context."""
        ...


@dataclass(frozen=True)
class WordLists:
    """A NameLexicon from plain sets of lower-case words."""

    given_names: frozenset[str]
    surnames: frozenset[str]
    common_words: frozenset[str] = frozenset()

    def is_given_name(self, word: str) -> bool:
        return word.lower() in self.given_names

    def is_surname(self, word: str) -> bool:
        return word.lower() in self.surnames

    def is_common_word(self, word: str) -> bool:
        return word.lower() in self.common_words


class OnNames(StrEnum):
    """What a pack does with text that looks as if it names someone."""

    REFUSE = "refuse"
    CONFIRM = "confirm"  # accepted only when the supervisor confirms the text is anonymous


@dataclass(frozen=True)
class Finding:
    kind: str  # "name" or "date_of_birth"
    text: str
    field: str = ""

    def __str__(self) -> str:
        what = "date of birth" if self.kind == "date_of_birth" else "name"
        return f"{self.field + ': ' if self.field else ''}{what} {self.text!r}"


class NotAnonymous(InvalidContent):
    """Text that appears to identify a person; ``findings`` says what and where."""

    def __init__(self, message: str, findings: tuple[Finding, ...]) -> None:
        super().__init__(message, field=(findings[0].field or None) if findings else None)
        self.findings = findings


# -- vocabulary: the shape of English around a name -------------------------------------------------

_TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "master", "mister", "sir", "dame", "prof"})
# A capitalised word after one of these is someone's name ("her son Kai"); after a descriptor an
# initial or a number is a pseudonym ("Child A", "Baby J").
_FAMILY_WORDS = frozenset({
    "mother", "father", "mum", "mom", "dad", "son", "daughter", "brother", "sister", "sibling", "siblings",
    "nan", "nana", "gran", "granny", "grandma", "grandad", "grandmother", "grandfather", "grandparent",
    "uncle", "aunt", "auntie", "cousin", "nephew", "niece", "partner", "boyfriend", "girlfriend", "husband",
    "wife", "stepfather", "stepmother", "stepdad", "stepmum", "stepson", "stepdaughter", "named", "called",
    "baby", "child", "toddler", "infant", "twin", "carer", "foster", "kinship", "guardian", "parent",
    "fiance", "fiancee", "ex", "mate", "friend", "neighbour",
})
_PSEUDONYM_HEADS = frozenset({
    "child", "baby", "sibling", "young", "person", "yp", "cyp", "mother", "father", "parent", "carer",
    "brother", "sister", "infant", "twin", "family", "case", "adult", "mum", "dad", "pupil", "student",
    "service", "user", "su", "worker",
})
# A place after these is where something happened, not who ("moved to Bath", "lives in Hull").
_PLACE_WORDS = frozenset({"in", "near", "around", "outside", "within", "across", "into", "towards", "at"})
_MOVE_WORDS = frozenset({"moved", "moving", "move", "went", "going", "travelled", "traveled", "relocated",
                         "relocating", "returned", "returning", "transferred", "visit", "visited", "visiting",
                         "drove", "trip", "placed", "placement"})
# Nouns that take a number ("Case 2231", "Page 4", "Room 3"): with one they are not a name.
_COUNTED_NOUNS = frozenset({"case", "page", "room", "year", "step", "level", "section", "stage", "phase", "grade",
                            "week", "band", "ward", "bay", "floor", "unit", "item", "point", "day", "part",
                            "appendix", "table", "figure", "box", "flat", "house", "block", "route", "key",
                            "number", "no", "ref", "version", "session", "plan", "child", "baby", "sibling"})
_DETERMINERS = frozenset({"the", "a", "an", "this", "that", "these", "those", "our", "their", "its", "every",
                          "each", "any", "no", "some"})
_WEEKDAYS = frozenset({"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"})
_MONTHS = frozenset({"january", "february", "march", "april", "may", "june", "july", "august", "september",
                     "october", "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug",
                     "sep", "sept", "oct", "nov", "dec"})
_BOUNDARY = frozenset(".!?;:\n•·–—()[]\"“”")

_TOKEN = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ][A-Za-zÀ-ÖØ-öø-ÿ'’\-]*|\d[\d/.\-]*|[.!?;:\n•·()\[\]\"“”–—]")
_DATE = r"\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}|\d{1,2}(?:st|nd|rd|th)?\s+[A-Za-z]{3,9}\.?,?\s+\d{2,4}|[A-Za-z]{3,9}\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}|\d{4}-\d{2}-\d{2}"
_DATE_OF_BIRTH = re.compile(
    rf"\b(?:d\.?\s?o\.?\s?b\.?|date\s+of\s+birth|birth\s*date|born(?:\s+on)?|birthday(?:\s+is)?)\s*[:\-–]?\s*(?:{_DATE}|\d{{4}})",
    re.IGNORECASE)


@dataclass(frozen=True)
class _Word:
    text: str  # without a possessive 's
    possessive: bool
    starts_sentence: bool
    position: int  # index among tokens

    @property
    def lower(self) -> str:
        return self.text.lower()

    @property
    def capitalised(self) -> bool:
        return self.text[:1].isupper()

    @property
    def all_caps(self) -> bool:
        letters = [c for c in self.text if c.isalpha()]
        return len(letters) >= 2 and all(c.isupper() for c in letters)

    @property
    def initial(self) -> bool:
        return len(self.text) == 1 and self.text.isupper()


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _words(tokens: list[str]) -> list[_Word | None]:
    """One entry per token: a word, or None for numbers and punctuation."""
    words: list[_Word | None] = []
    starts = True
    for i, token in enumerate(tokens):
        if token in _BOUNDARY:
            words.append(None)
            starts = starts or token in ".!?;:\n•·()[]\"“”–—"
            continue
        if token[0].isdigit():
            words.append(None)
            starts = False
            continue
        stem, possessive = token, False
        for ending in ("'s", "’s", "'", "’"):
            if stem.endswith(ending) and len(stem) > len(ending):
                stem, possessive = stem[: -len(ending)], True
                break
        words.append(_Word(stem.strip("-"), possessive, starts, i))
        starts = False
    return words


def _known(lexicon: NameLexicon, word: _Word) -> bool:
    if len(word.text) < 2 or (word.all_caps and len(word.text) < 3):
        return False  # "J", "JS": initials
    if lexicon.is_given_name(word.lower) or lexicon.is_surname(word.lower):
        return True
    # "Lily-Mae", "Kai-Jayden": one part that is plainly a name makes the whole a name
    parts = [p for p in word.lower.split("-") if len(p) >= 2]
    return len(parts) > 1 and any((lexicon.is_given_name(p) or lexicon.is_surname(p))
                                  and not lexicon.is_common_word(p) for p in parts)


def _looks_like_a_name_word(word: _Word | None) -> bool:
    return word is not None and word.capitalised and not word.initial and len(word.text) >= 2


def find_identifiers(text: str, lexicon: NameLexicon) -> tuple[Finding, ...]:
    """Every name or date of birth in the text, in order of appearance (empty: the text is anonymous)."""
    findings: list[Finding] = [Finding("date_of_birth", m.group(0).strip()) for m in _DATE_OF_BIRTH.finditer(text)]
    tokens = _tokens(text)
    words = _words(tokens)
    flagged: set[int] = set()

    def word_at(i: int) -> _Word | None:
        return words[i] if 0 <= i < len(words) else None

    def token_at(i: int) -> str:
        return tokens[i] if 0 <= i < len(tokens) else ""

    def is_number(i: int) -> bool:
        return token_at(i)[:1].isdigit()

    for i, word in enumerate(words):
        if word is None or i in flagged or not word.capitalised:
            continue
        before, after = word_at(i - 1), word_at(i + 1)
        if before is None and token_at(i - 1) == "." and word_at(i - 2) is not None:
            before = word_at(i - 2)  # "Mr. Smith": the title's full stop ends no sentence
            before = before if before is not None and before.lower in _TITLES else None
        lower_before = before.lower if before is not None else ""
        known = _known(lexicon, word)
        common = lexicon.is_common_word(word.lower) or word.lower in _MONTHS
        name = False
        if word.initial:
            continue
        if lower_before in _TITLES and (not word.all_caps or len(word.text) >= 3):
            name = True  # "Mrs Okafor"; "Mr S." is an initial and was skipped above
        elif lower_before in _FAMILY_WORDS and not (before is not None and before.capitalised
                                                    and before.lower in _PSEUDONYM_HEADS and not known):
            name = len(word.text) >= 2 and not common or known  # "her son Kai", "mother Grace"
        elif known and word.lower in _MONTHS and (is_number(i + 1) or is_number(i - 1)):
            name = False  # "May 2025", "3 June"
        elif known:
            two_back = word_at(i - 2)
            place = lower_before in _PLACE_WORDS or (lower_before == "to" and two_back is not None
                                                     and two_back.lower in _MOVE_WORDS)
            next_is_name = _looks_like_a_name_word(after) and after is not None and _known(lexicon, after)
            if place and not word.possessive and not next_is_name:
                name = False
            elif not common:
                name = True  # "Emma", "Smith", "JOHN"
            else:
                # "Hope", "Grace", "Mark", "Green": a name only when the words around say so
                given = lexicon.is_given_name(word.lower) and word.lower not in _MONTHS | _WEEKDAYS
                name = ((is_number(i + 1) and word.lower not in _COUNTED_NOUNS)  # "Grace 12", not "Page 4"
                        or (next_is_name and after is not None and not lexicon.is_common_word(after.lower))
                        or (word.possessive and given)  # "Hope's mother", "spoke to Grace's teacher"
                        # mid-sentence after an ordinary word: "spoke to Grace", "asked how Poppy is"
                        or (given and not word.starts_sentence and not word.all_caps and before is not None
                            and not before.capitalised and lower_before not in _DETERMINERS
                            and not (after is not None and after.capitalised)))
        if name:
            span = [i]
            # take in the rest of a full name: "John Smith", "Mary Anne O'Neil"
            j = i + 1
            while (following := word_at(j)) is not None and _looks_like_a_name_word(following) and (
                    _known(lexicon, following) or not lexicon.is_common_word(following.lower)):
                span.append(j)
                if following.possessive:
                    break
                j += 1
            if is_number(j):
                span.append(j)  # "Tom 12"
            flagged.update(span)
            findings.append(Finding("name", " ".join(tokens[k] for k in span)))
    # A known surname right after a flagged given name was already taken in; a surname after a
    # common-word name ("Grace Smith") makes the pair a name.
    for i, word in enumerate(words):
        if word is None or i in flagged or not word.capitalised or word.initial:
            continue
        before = word_at(i - 1)
        if (before is not None and before.capitalised and not before.initial and i - 1 not in flagged
                and _known(lexicon, before) and lexicon.is_surname(word.lower)
                and not lexicon.is_common_word(word.lower)):
            flagged.update({i - 1, i})
            findings.append(Finding("name", f"{tokens[i - 1]} {tokens[i]}"))
    return tuple(findings)


def screen(fields: Mapping[str, str] | Iterable[tuple[str, str]], lexicon: NameLexicon, on_names: OnNames | str,
           *, confirmed_anonymous: bool = False) -> bool:
    """Refuse text that names someone, or (``confirm``) accept it only with the supervisor's confirmation.

    Returns True when the text was accepted on the supervisor's confirmation (the caller records that in
    the event), False when nothing was found.
    """
    items = fields.items() if isinstance(fields, Mapping) else fields
    found: list[Finding] = []
    for name, text in items:
        if text:
            found += [Finding(f.kind, f.text, name) for f in find_identifiers(text, lexicon)]
    if not found:
        return False
    listed = "; ".join(str(f) for f in found)
    if OnNames(on_names) is OnNames.REFUSE:
        raise NotAnonymous(
            f"the record appears to name someone ({listed}): use initials (e.g. 'J.S.'), a pseudonym "
            "(e.g. 'Child A') or a case number", tuple(found))
    if not confirmed_anonymous:
        raise NotAnonymous(
            f"the record may name someone ({listed}): use initials (e.g. 'J.S.'), a pseudonym (e.g. 'Child A') "
            "or a case number, or confirm that the text identifies nobody", tuple(found))
    return True


@dataclass(frozen=True)
class Screening:
    """The names to look for and what the organisation's pack does when it finds one."""

    lexicon: NameLexicon
    on_names: OnNames

    def check(self, fields: Mapping[str, str] | Iterable[tuple[str, str]], *, confirmed_anonymous: bool = False) -> bool:
        return screen(fields, self.lexicon, self.on_names, confirmed_anonymous=confirmed_anonymous)
