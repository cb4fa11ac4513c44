"""Resolve country and US state spellings to the codes Meta matches (fact sheet §3.2, §3.4.4-5).

Countries come from pycountry's ISO 3166-1 data: alpha-2 and alpha-3 codes, the English name,
official and common names (also with "X, Republic of" turned round), and the translations
pycountry ships for the languages below, so `Deutschland`, `España` and `日本` resolve. A
spelling that two countries share in different languages is left out rather than guessed.
Spellings are compared folded: accents removed, case and everything but letters dropped.
"""

import functools
import gettext
import unicodedata

import pycountry

# Everyday names ISO does not use, and Kosovo's user-assigned code (not in ISO 3166-1, but
# used by Meta's and libphonenumber's region lists).
_COUNTRY_ALIASES_TEXT = {
    name: code
    for name, code in (
        pair.split("=")
        for pair in [
            "uk=gb",
            "greatbritain=gb",
            "britain=gb",
            "england=gb",
            "scotland=gb",
            "wales=gb",
            "northernireland=gb",
            "unitedstates=us",
            "unitedstatesofamerica=us",
            "usa=us",
            "america=us",
            "russia=ru",
            "southkorea=kr",
            "korea=kr",
            "northkorea=kp",
            "turkey=tr",
            "czechia=cz",
            "vietnam=vn",
            "iran=ir",
            "syria=sy",
            "laos=la",
            "moldova=md",
            "bolivia=bo",
            "venezuela=ve",
            "tanzania=tz",
            "taiwan=tw",
            "holland=nl",
            "uae=ae",
            "unitedarabemirates=ae",
            "ivorycoast=ci",
            "macedonia=mk",
            "kosovo=xk",
            "xk=xk",
            "россия=ru",
            "한국=kr",
        ]
    )
}

# Languages whose country names are indexed: the most spoken, and those of the largest
# advertising markets. More languages mean more cross-language collisions, each of which
# removes a spelling, so the list stays deliberate.
_LANGUAGES = (
    "de", "es", "fr", "it", "pt", "pt_BR", "nl", "sv", "da", "nb_NO", "fi", "pl", "cs", "ro", "hu",
    "el", "tr", "ru", "uk", "ar", "he", "hi", "id", "vi", "th", "ja", "ko", "zh_CN", "zh_TW",
)  # fmt: skip

# §3.4.4: full US state and territory names, AP/GPO abbreviations (`Calif.`, `Mass.`, `Tex`)
# and common shortenings (`N. Carolina`, `Washington DC`), all as folded letters.
_US_STATES: dict[str, str] = {
    name: code
    for name, code in (
        pair.split("=")
        for pair in [
            "alabama=al",
            "alaska=ak",
            "arizona=az",
            "arkansas=ar",
            "california=ca",
            "colorado=co",
            "connecticut=ct",
            "delaware=de",
            "districtofcolumbia=dc",
            "florida=fl",
            "georgia=ga",
            "hawaii=hi",
            "idaho=id",
            "illinois=il",
            "indiana=in",
            "iowa=ia",
            "kansas=ks",
            "kentucky=ky",
            "louisiana=la",
            "maine=me",
            "maryland=md",
            "massachusetts=ma",
            "michigan=mi",
            "minnesota=mn",
            "mississippi=ms",
            "missouri=mo",
            "montana=mt",
            "nebraska=ne",
            "nevada=nv",
            "newhampshire=nh",
            "newjersey=nj",
            "newmexico=nm",
            "newyork=ny",
            "northcarolina=nc",
            "northdakota=nd",
            "ohio=oh",
            "oklahoma=ok",
            "oregon=or",
            "pennsylvania=pa",
            "rhodeisland=ri",
            "southcarolina=sc",
            "southdakota=sd",
            "tennessee=tn",
            "texas=tx",
            "utah=ut",
            "vermont=vt",
            "virginia=va",
            "washington=wa",
            "westvirginia=wv",
            "wisconsin=wi",
            "wyoming=wy",
            "puertorico=pr",
            "guam=gu",
            "americansamoa=as",
            "virginislands=vi",
            "usvirginislands=vi",
            "northernmarianaislands=mp",
            "ala=al",
            "ariz=az",
            "ark=ar",
            "calif=ca",
            "cal=ca",
            "colo=co",
            "conn=ct",
            "del=de",
            "fla=fl",
            "ill=il",
            "ind=in",
            "kan=ks",
            "kans=ks",
            "mass=ma",
            "mich=mi",
            "minn=mn",
            "miss=ms",
            "mont=mt",
            "neb=ne",
            "nebr=ne",
            "nev=nv",
            "okla=ok",
            "ore=or",
            "oreg=or",
            "penn=pa",
            "penna=pa",
            "tenn=tn",
            "tex=tx",
            "wash=wa",
            "wis=wi",
            "wisc=wi",
            "wyo=wy",
            "wva=wv",
            "ncarolina=nc",
            "scarolina=sc",
            "ndakota=nd",
            "sdakota=sd",
            "wvirginia=wv",
            "nmex=nm",
            "nmexico=nm",
            "nhampshire=nh",
            "njersey=nj",
            "nyork=ny",
            "washingtondc=dc",
            "washingtondistrictofcolumbia=dc",
        ]
    )
}
US_STATE_CODES: frozenset[str] = frozenset(_US_STATES.values())


def fold(text: str) -> str:
    """Letters of `text` (any script) without accents, lowercased: the comparison form."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(char for char in decomposed if unicodedata.category(char)[0] == "L")


_COUNTRY_ALIASES: dict[str, str] = {fold(name): code for name, code in _COUNTRY_ALIASES_TEXT.items()}


def us_state_code(letters: str) -> str | None:
    """The ANSI code of a folded US state spelling (`california`, `calif`, `usca`), or None."""
    if letters in US_STATE_CODES:
        return letters
    if letters in _US_STATES:
        return _US_STATES[letters]
    # ISO 3166-2 form, `US-CA`.
    if len(letters) == 4 and letters.startswith("us") and letters[2:] in US_STATE_CODES:
        return letters[2:]
    return None


def country_alpha2(text: str) -> str | None:
    """Lowercase ISO 3166-1 alpha-2 code for a country code or name in any indexed language."""
    letters = fold(text)
    if letters in _COUNTRY_ALIASES:
        return _COUNTRY_ALIASES[letters]
    english = _english_index()
    if letters.startswith("the") and len(letters) > 3 and letters not in english:
        letters = letters[3:]
    if letters in english:
        return english[letters]
    # Translations are only loaded (~0.1 s, once) when a spelling is not English.
    return _translated_index().get(letters)


@functools.cache
def _english_index() -> dict[str, str]:
    english: dict[str, str] = {}
    for country in pycountry.countries:
        code = str(country.alpha_2).lower()
        english[code] = code
        english[str(country.alpha_3).lower()] = code
        for name in _names_of(country):
            english.setdefault(fold(name), code)
    english.pop("", None)
    return english


@functools.cache
def _translated_index() -> dict[str, str]:
    english = _english_index()
    translated: dict[str, set[str]] = {}
    for language in _LANGUAGES:
        try:
            catalog = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language])
        except OSError:
            continue
        for country in pycountry.countries:
            for name in _names_of(country):
                translated.setdefault(fold(catalog.gettext(name)), set()).add(str(country.alpha_2).lower())
    return {
        key: next(iter(codes))
        for key, codes in translated.items()
        if key and key not in english and key not in _COUNTRY_ALIASES and len(codes) == 1
    }


def _names_of(country: object) -> list[str]:
    names = [
        str(getattr(country, attribute))
        for attribute in ("name", "official_name", "common_name")
        if hasattr(country, attribute)
    ]
    # `Korea, Republic of` is also written `Republic of Korea`.
    names.extend(f"{tail.strip()} {head.strip()}" for head, _, tail in (name.partition(",") for name in names) if tail)
    return names
