"""The names the anonymisation check looks for, from Faker's published name lists (MIT licence).

Faker ships, per locale, the given names and surnames its generators draw from: census and registry
frequency lists for the English-speaking countries and for the countries many social care workforces and
families in England come from. They are read once, lower-cased and folded to ASCII, into a ``WordLists``
that the domain's check takes as its ``NameLexicon``.

Ordinary English words that are also names ("hope", "may", "green") come from Faker's English vocabulary
(lorem words, company phrase words, job titles, colour names) plus the words below, which supervision
notes use in their ordinary sense.
"""

from __future__ import annotations

import importlib
import unicodedata
from functools import lru_cache

from domain.anonymisation import WordLists

# Locales whose lists cover the names most often met in English children's services.
LOCALES = ("en_GB", "en_US", "en_IE", "en_IN", "en_NG", "en_KE", "en_PK", "en_NZ", "pl_PL", "ro_RO", "lt_LT",
           "pt_PT", "it_IT", "es_ES", "fr_FR", "de_DE", "tr_TR", "yo_NG", "ig_NG", "ha_NG", "tw_GH", "sw")

# Words in those lists that are, far more often in a supervision note, ordinary English: a place, a
# month, a virtue, a colour, a job, a RAG rating. The check still catches them in a name's context.
ORDINARY_WORDS = frozenset("""
    april august june march may autumn summer winter spring dawn eve noon christmas easter
    hope grace faith joy charity patience prudence honor honour mercy trust unity liberty chance
    will mark bill pat sue rob ray frank art guy jack major sterling earnest ernest victor
    green red amber white black brown grey gray gold silver scarlet violet rose olive jade ruby pearl
    crystal hazel holly ivy daisy lily iris heather fern sage basil rosemary poppy jasmine willow
    river brook storm rain sky sunny star sunshine ocean forest meadow glen dale vale
    bath hull bury chester lincoln jersey york kent derby preston lancaster wells hythe deal sale
    mansfield sydney florence paris austin dallas houston phoenix orlando victoria georgia carolina
    king queen prince princess duke earl lord lady bishop judge dean pope knight
    baker cook mason carpenter porter hunter fisher farmer tailor
    potter weaver draper painter singer archer shepherd marshal sergeant
    page price case hall hill wood woods bell street lane field fields ford marsh banks rivers
    long short young best little strong rich good small north south east west law power key ball
    wall way house church glass rock peace story day early clear deep low fall foot job doctor
    nurse man parent child baby boy girl son mother father head service team worker manager
    review plan care court school college home office police health education family social
    fox wolf bear lamb swan drake wren robin jay finch crane hawk bird dove peacock
    stone rock hardy noble hale gay cross bond banks church chapel temple
    brand lane rice wise bright sharp swift love lovely sweet
    monday tuesday wednesday thursday friday saturday sunday
    english welsh scottish irish british french polish african asian
    social safeguarding signs safety wellbeing stability foster fostering adoption kinship date
""".split())


def _fold(word: str) -> str:
    """Lower case, accents removed: "Zoë" and "Zoe" are one name."""
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower().strip()


def _names(attribute_values: object) -> set[str]:
    found = set()
    for name in attribute_values or ():  # tuples, or OrderedDicts of name -> frequency
        for part in str(name).replace("-", " ").split():
            folded = _fold(part).replace("’", "'")
            if len(folded) >= 2 and folded.replace("'", "").isalpha():
                found.add(folded)
    return found


def _english_words() -> list[str]:
    """Faker's English vocabulary: its lorem words, company phrase words, job titles and colour names."""
    lorem = importlib.import_module("faker.providers.lorem.en_US").Provider
    company = importlib.import_module("faker.providers.company.en_US").Provider
    job = importlib.import_module("faker.providers.job.en_US").Provider
    colour = importlib.import_module("faker.providers.color.en_US").Provider
    words = list(lorem.word_list) + list(job.jobs) + [str(c) for c in colour.all_colors]
    for group in (*company.catch_phrase_words, *company.bsWords):
        words += list(group)
    return [w.lower() for w in words]


@lru_cache(maxsize=1)
def default_lexicon() -> WordLists:
    given: set[str] = set()
    surnames: set[str] = set()
    for locale in LOCALES:
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        for attribute in ("first_names", "first_names_male", "first_names_female"):
            given |= _names(getattr(provider, attribute, ()))
        surnames |= _names(getattr(provider, "last_names", ()))
    common = set(ORDINARY_WORDS)
    for text in _english_words():
        common |= {_fold(w) for w in text.replace("-", " ").replace("/", " ").split() if w.isalpha()}
    return WordLists(frozenset(given), frozenset(surnames), frozenset(common))
