"""Regular-expression building blocks shared by the engine and the per-row baseline.

Every pattern here must mean the same in Python's ``re`` (with ``re.ASCII | re.IGNORECASE``)
and in RE2, which pyarrow uses in the vectorised engine: no look-arounds, no back-references.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A hit right after one of these counts as negated: "not wireless", "non-wireless",
# "without ANC", "no active noise cancelling", "does not offer noise cancellation",
# "an LCD panel rather than OLED". Up to two small words may sit between cue and feature.
NEGATION_CUE = (
    r"\b(?:(?:does|do|is|are)\s+not|doesn't|don't|isn't|aren't|not|no|non|without|w/o|lacks?"
    r"|rather\s+than|instead\s+of)"
    r"(?:\s+(?:offer|have|has|support|include|come\s+with))?[\s-]+"
    r"(?:(?:a|an|any|active|built-in|true)\s+){0,2}"
)

PY_FLAGS = re.ASCII | re.IGNORECASE


@dataclass(frozen=True)
class SpecParser:
    """How one numeric spec is written in product text.

    Attributes:
        pattern: regex with one named group ``value`` holding the number.
        label: what the number is, for explanations.
        unit: unit of the number, for explanations.
        thousands: whether ``,`` or ``.`` in the value is a thousands separator.
    """

    pattern: str
    label: str
    unit: str
    thousands: bool = False


SPECS: dict[str, SpecParser] = {
    # 65", 65'', 65″, 65-inch, 65 inch, 65 inches, 65 in
    "screen_size_in": SpecParser(
        r"\b(?P<value>\d{2,3}(?:\.\d)?)\s*(?:\"|''|″|”|-?\s?inch(?:es)?\b|\s?in\b)",
        "screen size",
        "in",
    ),
    # 33MP, 33 MP, 20.1-Megapixel, 61 megapixels
    "megapixels": SpecParser(
        r"\b(?P<value>\d{1,3}(?:\.\d{1,2})?)\s*-?\s*(?:mp|mega\s?-?pixels?)\b", "sensor", "MP"
    ),
    # 5000 mAh, 5,000mAh
    "battery_mah": SpecParser(
        r"\b(?P<value>\d{1,2}[,.]?\d{3})\s*-?\s*mah\b", "battery", "mAh", thousands=True
    ),
    # 30 hours of battery, 40-hour playback, 24 hrs battery
    "battery_hours": SpecParser(
        r"\b(?P<value>\d{1,3})\s*-?\s*(?:hours?|hrs?)\s+(?:of\s+)?"
        r"(?:battery|playback|play\s?time|listening|music)",
        "battery life",
        "h",
    ),
    # 120Hz, 144 Hz
    "refresh_hz": SpecParser(r"\b(?P<value>\d{2,3})\s*-?\s*hz\b", "refresh rate", "Hz"),
}


def term_regex(term: str) -> str:
    """A keyword as a regex: any case, whole words, flexible separators.

    A space in a term stands for spaces or hyphens ("noise cancelling" matches
    "Noise-Cancelling"); a hyphen may also be left out ("pro-grade" matches "prograde").
    A word boundary is required at each end that is a letter or digit.
    """
    text = term.strip()
    out = []
    for piece in re.split(r"([\s\-]+)", text):
        if not piece:
            continue
        if re.fullmatch(r"[\s\-]+", piece):
            out.append(r"[\s\-]*" if "-" in piece else r"[\s\-]+")
        else:
            out.append(re.escape(piece))
    start = r"\b" if re.match(r"\w", text, re.ASCII) else ""
    end = r"\b" if re.search(r"\w$", text, re.ASCII) else ""
    return start + "".join(out) + end


def alternation(parts: list[str]) -> str:
    """Join regexes into one alternation, longest first so longer phrases win at a position."""
    unique = sorted(set(parts), key=lambda p: (-len(p), p))
    return "|".join(f"(?:{p})" for p in unique)


def keyword_pattern(terms: list[str], patterns: list[str] | None = None) -> str:
    """The regex of a keyword rule: its terms (see ``term_regex``) plus raw variant patterns."""
    return alternation([term_regex(t) for t in terms] + list(patterns or []))


def strip_named_groups(pattern: str) -> str:
    """Turn ``(?P<name>`` into ``(?:`` so several spec patterns can share one alternation."""
    return re.sub(r"\(\?P<\w+>", "(?:", pattern)
