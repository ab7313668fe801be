"""Titles and descriptions of listings, built from a model, a variant and a row of draws.

Every choice reads a fixed slot of the item's uniform draws, so an item's text depends only
on its own draws. The features the text mentions (and the ones it explicitly negates) are
returned with it: that is the ground truth a rule-based tagger is measured against.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from recsys.shop_sim.lineup import Model
from recsys.shop_sim.variants import Variant
from recsys.shop_sim.vocabulary import (
    CATEGORY_INTROS,
    CLOSINGS,
    FEATURE_SENTENCES,
    FEATURES,
    NEGATABLE,
    NEGATION_SENTENCES,
    TITLE_WORDS,
)

TEXT_DRAWS = 40  # uniforms per item; slots below
_TITLE, _ALIAS, _TITLE_FEATS, _SIZE_FMT, _MP_FMT, _INTRO, _BULLETS = 0, 1, 2, 3, 4, 5, 6
_NEGATE, _NEGATE_WHICH, _NEGATE_SENTENCE, _CLOSING, _CODE, _ORDER = 7, 8, 9, 10, 11, 12
_MENTION, _PHRASE = 16, 28  # + feature rank, up to 12 features each
MENTION_PROBABILITY = 0.9
NEGATION_PROBABILITY = 0.12

# Words in model names and forms that carry a feature (they must be true of the model).
_CARRIED = {
    r"\bWireless\b": "wireless",
    r"\bBluetooth\b": "wireless",
    r"\bGaming\b": "for_gamers",
    r"\bBusiness\b": "for_business",
    r"OLED\b": "oled",
    r"\bPortable\b": "portable",
    r"\bCompact\b": "portable",
    r"\b4K\b": "4k",
    r"\b8K\b": "8k",
}
_TITLE_FEATURE_ORDER: dict[str, tuple[str, ...]] = {
    "cameras": ("full_frame", "aps_c", "weather_sealed", "4k"),
    "lenses": ("full_frame", "aps_c", "weather_sealed", "lightweight"),
    "headphones": ("wireless", "noise_cancelling", "hi_res_audio", "for_gamers"),
    "speakers": ("portable", "wireless", "waterproof"),
    "tvs": ("4k", "8k", "hdr", "120hz"),
    "game_consoles": ("4k", "portable"),
    "phones": ("120hz",),
    "laptops": ("oled", "for_gamers", "for_business", "lightweight"),
    "accessories": (),  # accessory names already say what they are
}
_SCREEN_FORMATS = ('{s}"', "{s}-inch", "{s} in", "{s} Inch Class", "{s}″", "{s}-Inch")
_MP_FORMATS = ("{mp}MP", "{mp} MP", "{mp}-megapixel", "{mp} megapixels")


@dataclass(frozen=True)
class ListingText:
    """A listing's text and the features it mentions or explicitly denies."""

    title: str
    description: str
    mentioned: frozenset[str]
    negated: frozenset[str]


def _pick(options: Sequence[str], u: float) -> str:
    return options[min(int(u * len(options)), len(options) - 1)]


def _number(value: float) -> str:
    return f"{value:g}"


def carried_features(text: str) -> set[str]:
    """Features named by words in a model name, form or variant label."""
    return {feature for pattern, feature in _CARRIED.items() if re.search(pattern, text)}


def _title(
    model: Model, variant: Variant, features: frozenset[str], u: Sequence[float]
) -> tuple[str, set[str]]:
    name = model.alias if model.alias and u[_ALIAS] < 0.4 else model.name
    head = f"{model.brand} {name}"
    carried = carried_features(f"{model.name} {model.form} {variant.label}")
    wanted = [f for f in _TITLE_FEATURE_ORDER[model.category] if f in features and f not in carried]
    words = wanted[: int(u[_TITLE_FEATS] * 3)]
    parts = [head]
    if variant.screen and model.category in ("tvs", "laptops"):
        parts.append(_pick(_SCREEN_FORMATS, u[_SIZE_FMT]).format(s=_number(variant.screen)))
    if model.megapixels and u[_MP_FMT] < 0.5:
        parts.append(_pick(_MP_FORMATS[:2], u[_MP_FMT] * 2).format(mp=_number(model.megapixels)))
    parts.extend(TITLE_WORDS[f] for f in words)
    if model.form:
        parts.append(model.form)
    title = " ".join(parts)
    if variant.label:
        title += (", " if u[_TITLE] < 0.5 else " - ") + variant.label
    code = model.code.format(size=variant.size_code) if model.code else ""
    if code and u[_CODE] < 0.6:
        title += f" ({code})"
    return title, carried | set(words)


def _spec_sentences(model: Model, variant: Variant, u: Sequence[float]) -> tuple[list[str], set[str]]:
    sentences: list[str] = []
    mentioned: set[str] = set()
    if model.megapixels:
        mp = _pick(_MP_FORMATS, u[_MP_FMT]).format(mp=_number(model.megapixels))
        sentences.append(f"The {mp} sensor resolves fine detail.")
    if variant.screen:
        size = _pick(_SCREEN_FORMATS, u[_SIZE_FMT]).format(s=_number(variant.screen))
        sentences.append(f"Screen size: {size}.")
    if model.mah:
        mah = f"{model.mah:,} mAh" if u[_SIZE_FMT] < 0.5 else f"{model.mah}mAh"
        sentences.append(f"Battery capacity: {mah}.")
        if model.mah >= 5000:
            mentioned.add("long_battery")
    return sentences, mentioned


def listing_text(model: Model, variant: Variant, features: frozenset[str], u: Sequence[float]) -> ListingText:
    """Title and description of one listing, with the features they mention and negate."""
    title, mentioned = _title(model, variant, features, u)
    display = (
        f"{model.brand} {model.alias or model.name}" if u[_ALIAS] < 0.2 else f"{model.brand} {model.name}"
    )
    sentences = [_pick(CATEGORY_INTROS[model.category], u[_INTRO]).format(name=display)]
    specs, spec_mentions = _spec_sentences(model, variant, u)
    mentioned |= spec_mentions
    ordered = [f for f in FEATURES if f in features]
    shift = int(u[_ORDER] * len(ordered)) if ordered else 0
    bullets: list[str] = []
    for rank, feature in enumerate(ordered[shift:] + ordered[:shift]):
        slot = min(rank, 11)
        if u[_MENTION + slot] < MENTION_PROBABILITY:
            bullets.append(_pick(FEATURE_SENTENCES[feature], u[_PHRASE + slot]))
            mentioned.add(feature)
    negated: set[str] = set()
    absent = [f for f in NEGATABLE[model.category] if f not in features]
    if absent and u[_NEGATE] < NEGATION_PROBABILITY:
        feature = _pick(absent, u[_NEGATE_WHICH])
        bullets.append(_pick(NEGATION_SENTENCES[feature], u[_NEGATE_SENTENCE]))
        negated.add(feature)
    closing = _pick(CLOSINGS, u[_CLOSING])
    if u[_BULLETS] < 0.2 and bullets:
        body = " ".join(sentences + specs) + "\nKey features:\n" + "\n".join(f"- {b}" for b in bullets)
        description = body + (f"\n{closing}" if closing else "")
    else:
        description = " ".join([*sentences, *specs, *bullets, closing]).strip()
    return ListingText(title, description, frozenset(mentioned), frozenset(negated))
