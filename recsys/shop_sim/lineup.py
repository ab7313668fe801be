# ruff: noqa: E501  (the model table keeps one model a line; wrapping it would hide the columns)
"""The product models the shop lists: real brands and series with their typical features.

A listing (an item) is one model in one variant (colour, size, storage, kit), at a price
near the model's reference price. Prices are US list prices, rounded; ``price`` of a TV is
for its 65-inch size and is scaled for the other sizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Model:
    """One product model. ``series`` is brand plus line, e.g. "Sony Alpha"."""

    category: str
    brand: str
    series: str
    name: str
    price: float
    tier: str
    features: frozenset[str]
    form: str
    code: str = ""
    alias: str = ""
    mount: str = ""
    compat: str = ""
    megapixels: float = 0.0
    screen: float = 0.0
    sizes: tuple[int, ...] = ()
    mah: int = 0
    variants: tuple[tuple[str, float], ...] = ()
    weight: float = 1.0

    @property
    def shelf(self) -> str:
        """Where the item sits in the shop (see ``vocabulary.SHELVES``)."""
        if self.category in ("cameras", "lenses"):
            return f"{self.category}/{self.mount}"
        if self.category == "accessories":
            return f"accessories/{self.compat}"
        return self.category


# A shop specialised in Sony lists more Sony variants and bundles.
SONY_WEIGHT = 1.4


def _m(
    category: str,
    brand: str,
    line: str,
    name: str,
    price: float,
    tier: str,
    features: str,
    form: str,
    **extra: Any,
) -> Model:
    weight = float(extra.pop("weight", 1.0)) * (SONY_WEIGHT if brand == "Sony" else 1.0)
    series = f"{brand} {line}"
    feats = frozenset(features.split())
    return Model(category, brand, series, name, price, tier, feats, form, weight=weight, **extra)


_CONSOLE_DISC = (("Disc Edition", 1.0), ("Digital Edition", 0.9), ("Bundle with 2 Games", 1.15))
_CARD = (("64GB", 0.6), ("128GB", 1.0), ("256GB", 1.6), ("512GB", 2.6))
_PS = "4k 120hz backward_compatible for_gamers"

# fmt: off
MODELS: tuple[Model, ...] = (
    # cameras
    _m("cameras", "Sony", "Alpha", "Alpha 7 IV", 2499, "high", "full_frame weather_sealed 4k", "Mirrorless Camera", code="ILCE-7M4", alias="α7 IV", mount="E", megapixels=33, weight=2.0),
    _m("cameras", "Sony", "Alpha", "Alpha 7R V", 3899, "professional", "full_frame weather_sealed 8k professional", "Mirrorless Camera", code="ILCE-7RM5", alias="α7R V", mount="E", megapixels=61),
    _m("cameras", "Sony", "Alpha", "Alpha 7C II", 2199, "high", "full_frame lightweight 4k", "Mirrorless Camera", code="ILCE-7CM2", alias="α7C II", mount="E", megapixels=33),
    _m("cameras", "Sony", "Alpha", "Alpha 7S III", 3499, "professional", "full_frame weather_sealed 4k professional", "Mirrorless Camera", code="ILCE-7SM3", alias="α7S III", mount="E", megapixels=12.1),
    _m("cameras", "Sony", "Alpha", "Alpha 1 II", 6498, "professional", "full_frame weather_sealed 8k professional", "Mirrorless Camera", code="ILCE-1M2", alias="α1 II", mount="E", megapixels=50.1),
    _m("cameras", "Sony", "Alpha", "Alpha 9 III", 5998, "professional", "full_frame weather_sealed 4k professional", "Mirrorless Camera", code="ILCE-9M3", alias="α9 III", mount="E", megapixels=24.6),
    _m("cameras", "Sony", "Alpha", "Alpha 6700", 1399, "mid", "aps_c 4k lightweight", "Mirrorless Camera", code="ILCE-6700", alias="α6700", mount="E", megapixels=26),
    _m("cameras", "Sony", "Alpha", "Alpha 6400", 899, "entry", "aps_c 4k", "Mirrorless Camera", code="ILCE-6400", alias="α6400", mount="E", megapixels=24.2),
    _m("cameras", "Sony", "ZV", "ZV-E10 II", 999, "mid", "aps_c 4k lightweight", "Vlog Camera", mount="E", megapixels=26),
    _m("cameras", "Sony", "ZV", "ZV-E1", 2199, "high", "full_frame 4k lightweight", "Vlog Camera", mount="E", megapixels=12.1),
    _m("cameras", "Sony", "ZV", "ZV-1 II", 899, "entry", "4k portable", "Vlog Camera", mount="fixed", megapixels=20.1),
    _m("cameras", "Sony", "FX", "FX3", 3899, "professional", "full_frame 4k professional", "Cinema Line Camera", code="ILME-FX3", mount="E", megapixels=12.1),
    _m("cameras", "Sony", "FX", "FX30", 1799, "high", "aps_c 4k professional", "Cinema Line Camera", code="ILME-FX30", mount="E", megapixels=26),
    _m("cameras", "Sony", "FX", "FX6", 5998, "professional", "full_frame 4k professional", "Cinema Line Camera", code="ILME-FX6V", mount="E", megapixels=10.2),
    _m("cameras", "Canon", "EOS R", "EOS R5 Mark II", 4299, "professional", "full_frame weather_sealed 8k professional", "Mirrorless Camera", mount="RF", megapixels=45),
    _m("cameras", "Canon", "EOS R", "EOS R6 Mark II", 2499, "high", "full_frame weather_sealed 4k", "Mirrorless Camera", mount="RF", megapixels=24.2),
    _m("cameras", "Canon", "EOS R", "EOS R8", 1499, "mid", "full_frame lightweight 4k", "Mirrorless Camera", mount="RF", megapixels=24.2),
    _m("cameras", "Canon", "EOS R", "EOS R7", 1499, "mid", "aps_c weather_sealed 4k", "Mirrorless Camera", mount="RF", megapixels=32.5),
    _m("cameras", "Canon", "EOS R", "EOS R50", 679, "entry", "aps_c 4k lightweight", "Mirrorless Camera", mount="RF", megapixels=24.2),
    _m("cameras", "Nikon", "Z", "Z8", 3999, "professional", "full_frame weather_sealed 8k professional", "Mirrorless Camera", mount="Z", megapixels=45.7),
    _m("cameras", "Nikon", "Z", "Z6III", 2499, "high", "full_frame weather_sealed 4k", "Mirrorless Camera", mount="Z", megapixels=24.5),
    _m("cameras", "Nikon", "Z", "Zf", 1999, "high", "full_frame 4k minimalist_design", "Mirrorless Camera", mount="Z", megapixels=24.5),
    _m("cameras", "Nikon", "Z", "Z50II", 859, "entry", "aps_c 4k", "Mirrorless Camera", mount="Z", megapixels=20.9),
    _m("cameras", "Fujifilm", "X", "X-T5", 1699, "high", "aps_c weather_sealed 4k", "Mirrorless Camera", mount="X", megapixels=40.2),
    _m("cameras", "Fujifilm", "X", "X-S20", 1299, "mid", "aps_c 4k lightweight", "Mirrorless Camera", mount="X", megapixels=26.1),
    _m("cameras", "Fujifilm", "X", "X-H2S", 2499, "professional", "aps_c weather_sealed 4k professional", "Mirrorless Camera", mount="X", megapixels=26.1),
    _m("cameras", "Fujifilm", "X", "X100VI", 1599, "high", "aps_c minimalist_design portable", "Compact Camera", mount="fixed", megapixels=40.2),
    _m("cameras", "Panasonic", "Lumix", "LUMIX S5IIX", 2199, "high", "full_frame weather_sealed 4k professional", "Mirrorless Camera", mount="L", megapixels=24.2),
    _m("cameras", "Panasonic", "Lumix", "LUMIX S9", 1499, "mid", "full_frame lightweight 4k", "Mirrorless Camera", mount="L", megapixels=24.2),
    _m("cameras", "Panasonic", "Lumix", "LUMIX S1R II", 3299, "professional", "full_frame weather_sealed 8k professional", "Mirrorless Camera", mount="L", megapixels=44.3),
    # lenses
    _m("lenses", "Sony", "G Master", "FE 24-70mm F2.8 GM II", 2299, "professional", "full_frame weather_sealed lightweight professional", "Standard Zoom Lens", code="SEL2470GM2", mount="E", weight=1.5),
    _m("lenses", "Sony", "G Master", "FE 70-200mm F2.8 GM OSS II", 2799, "professional", "full_frame weather_sealed professional", "Telephoto Zoom Lens", code="SEL70200GM2", mount="E"),
    _m("lenses", "Sony", "G Master", "FE 16-35mm F2.8 GM II", 2299, "professional", "full_frame weather_sealed professional", "Wide-Angle Zoom Lens", code="SEL1635GM2", mount="E"),
    _m("lenses", "Sony", "G Master", "FE 50mm F1.2 GM", 1999, "professional", "full_frame weather_sealed", "Prime Lens", code="SEL50F12GM", mount="E"),
    _m("lenses", "Sony", "G Master", "FE 85mm F1.4 GM II", 1799, "high", "full_frame weather_sealed lightweight", "Portrait Prime Lens", code="SEL85F14GM2", mount="E"),
    _m("lenses", "Sony", "G Master", "FE 24mm F1.4 GM", 1399, "high", "full_frame lightweight", "Wide Prime Lens", code="SEL24F14GM", mount="E"),
    _m("lenses", "Sony", "G Master", "FE 100-400mm F4.5-5.6 GM OSS", 2499, "professional", "full_frame weather_sealed professional", "Super Telephoto Lens", code="SEL100400GM", mount="E"),
    _m("lenses", "Sony", "E-mount", "FE 50mm F1.8", 249, "entry", "full_frame lightweight", "Prime Lens", code="SEL50F18F", mount="E"),
    _m("lenses", "Sony", "E-mount", "FE 28-60mm F4-5.6", 449, "entry", "full_frame lightweight", "Kit Zoom Lens", code="SEL2860", mount="E"),
    _m("lenses", "Sony", "E-mount", "FE 85mm F1.8", 599, "mid", "full_frame lightweight", "Portrait Prime Lens", code="SEL85F18", mount="E"),
    _m("lenses", "Sony", "E-mount", "FE 20-70mm F4 G", 1099, "high", "full_frame weather_sealed", "Standard Zoom Lens", code="SEL2070G", mount="E"),
    _m("lenses", "Sony", "E-mount", "E 18-135mm F3.5-5.6 OSS", 599, "mid", "aps_c lightweight", "All-in-One Zoom Lens", code="SEL18135", mount="E"),
    _m("lenses", "Sony", "E-mount", "E 70-350mm F4.5-6.3 G OSS", 999, "mid", "aps_c weather_sealed", "Telephoto Zoom Lens", code="SEL70350G", mount="E"),
    _m("lenses", "Sony", "E-mount", "E 11mm F1.8", 549, "mid", "aps_c lightweight", "Wide Prime Lens", code="SEL11F18", mount="E"),
    _m("lenses", "Sigma", "Art", "24-70mm F2.8 DG DN II Art for Sony E", 1199, "high", "full_frame weather_sealed", "Zoom Lens", mount="E"),
    _m("lenses", "Sigma", "Contemporary", "18-50mm F2.8 DC DN Contemporary for Sony E", 549, "mid", "aps_c lightweight", "Zoom Lens", mount="E"),
    _m("lenses", "Tamron", "Di III", "28-75mm F/2.8 Di III VXD G2 for Sony E", 879, "mid", "full_frame lightweight", "Zoom Lens", mount="E"),
    _m("lenses", "Canon", "RF", "RF 24-70mm F2.8 L IS USM", 2399, "professional", "full_frame weather_sealed professional", "Standard Zoom Lens", mount="RF"),
    _m("lenses", "Canon", "RF", "RF 50mm F1.8 STM", 229, "entry", "full_frame lightweight", "Prime Lens", mount="RF"),
    _m("lenses", "Canon", "RF", "RF 24-105mm F4 L IS USM", 1399, "high", "full_frame weather_sealed", "Zoom Lens", mount="RF"),
    _m("lenses", "Canon", "RF", "RF-S 18-150mm F3.5-6.3 IS STM", 499, "entry", "aps_c lightweight", "All-in-One Zoom Lens", mount="RF"),
    _m("lenses", "Nikon", "NIKKOR Z", "NIKKOR Z 24-70mm f/2.8 S", 2399, "professional", "full_frame weather_sealed professional", "Standard Zoom Lens", mount="Z"),
    _m("lenses", "Nikon", "NIKKOR Z", "NIKKOR Z 50mm f/1.8 S", 629, "mid", "full_frame", "Prime Lens", mount="Z"),
    _m("lenses", "Nikon", "NIKKOR Z", "NIKKOR Z 70-200mm f/2.8 VR S", 2699, "professional", "full_frame weather_sealed professional", "Telephoto Zoom Lens", mount="Z"),
    _m("lenses", "Fujifilm", "XF", "XF 16-55mm F2.8 R LM WR II", 1199, "high", "aps_c weather_sealed lightweight", "Zoom Lens", mount="X"),
    _m("lenses", "Fujifilm", "XF", "XF 33mm F1.4 R LM WR", 799, "mid", "aps_c weather_sealed", "Prime Lens", mount="X"),
    _m("lenses", "Panasonic", "Lumix S", "LUMIX S 24-105mm F4 Macro O.I.S.", 1299, "high", "full_frame weather_sealed", "Zoom Lens", mount="L"),
    _m("lenses", "Panasonic", "Lumix S", "LUMIX S 50mm F1.8", 449, "mid", "full_frame lightweight", "Prime Lens", mount="L"),
    # headphones
    _m("headphones", "Sony", "1000X", "WH-1000XM5", 399, "high", "noise_cancelling wireless ldac hi_res_audio long_battery lightweight", "Over-Ear Headphones", weight=2.0),
    _m("headphones", "Sony", "1000X", "WH-1000XM4", 348, "high", "noise_cancelling wireless ldac hi_res_audio long_battery", "Over-Ear Headphones", weight=1.5),
    _m("headphones", "Sony", "1000X", "WF-1000XM5", 299, "high", "noise_cancelling wireless ldac hi_res_audio portable", "True Wireless Earbuds", weight=1.5),
    _m("headphones", "Sony", "1000X", "WH-1000XM6", 449, "high", "noise_cancelling wireless ldac hi_res_audio long_battery", "Over-Ear Headphones"),
    _m("headphones", "Sony", "ULT", "ULT WEAR", 199, "mid", "noise_cancelling wireless", "Over-Ear Headphones", code="WH-ULT900N"),
    _m("headphones", "Sony", "Everyday", "WH-CH720N", 149, "entry", "noise_cancelling wireless lightweight", "Over-Ear Headphones"),
    _m("headphones", "Sony", "Everyday", "WF-C700N", 119, "entry", "noise_cancelling wireless portable", "True Wireless Earbuds"),
    _m("headphones", "Sony", "Studio", "MDR-MV1", 399, "professional", "hi_res_audio professional", "Open-Back Studio Monitor Headphones"),
    _m("headphones", "Sony", "Studio", "MDR-7506", 99, "mid", "professional", "Studio Monitor Headphones"),
    _m("headphones", "Sony", "INZONE", "INZONE H9", 299, "high", "noise_cancelling wireless for_gamers", "Gaming Headset"),
    _m("headphones", "Sony", "INZONE", "INZONE H3", 99, "entry", "for_gamers", "Gaming Headset"),
    _m("headphones", "Sony", "PlayStation", "PULSE Elite", 149, "mid", "wireless for_gamers", "Wireless Gaming Headset"),
    _m("headphones", "Bose", "QuietComfort", "QuietComfort Ultra Headphones", 429, "high", "noise_cancelling wireless", "Over-Ear Headphones", weight=1.5),
    _m("headphones", "Bose", "QuietComfort", "QuietComfort Ultra Earbuds", 299, "high", "noise_cancelling wireless portable", "True Wireless Earbuds"),
    _m("headphones", "Bose", "QuietComfort", "QuietComfort Headphones", 349, "mid", "noise_cancelling wireless long_battery", "Over-Ear Headphones"),
    _m("headphones", "Sennheiser", "Momentum", "MOMENTUM 4 Wireless", 379, "high", "noise_cancelling wireless long_battery hi_res_audio", "Over-Ear Headphones"),
    _m("headphones", "Sennheiser", "Momentum", "MOMENTUM True Wireless 4", 299, "high", "noise_cancelling wireless hi_res_audio", "True Wireless Earbuds"),
    _m("headphones", "Sennheiser", "HD", "HD 660S2", 599, "professional", "hi_res_audio professional", "Open-Back Audiophile Headphones"),
    _m("headphones", "Sennheiser", "HD", "HD 599", 199, "mid", "hi_res_audio", "Open-Back Headphones"),
    _m("headphones", "Apple", "AirPods", "AirPods Pro 2", 249, "high", "noise_cancelling wireless portable", "Wireless Earbuds", weight=1.5),
    _m("headphones", "Apple", "AirPods", "AirPods 4", 129, "entry", "wireless portable", "Wireless Earbuds"),
    _m("headphones", "Apple", "AirPods", "AirPods Max", 549, "high", "noise_cancelling wireless", "Over-Ear Headphones"),
    _m("headphones", "JBL", "Tune", "Tune 520BT", 49, "entry", "wireless lightweight long_battery", "On-Ear Headphones"),
    _m("headphones", "JBL", "Tune", "Tune 110", 30, "entry", "lightweight", "In-Ear Headphones"),
    _m("headphones", "JBL", "Live", "Live 770NC", 199, "mid", "noise_cancelling wireless", "Over-Ear Headphones"),
    _m("headphones", "JBL", "Quantum", "Quantum 910 Wireless", 299, "high", "noise_cancelling wireless for_gamers", "Gaming Headset"),
    _m("headphones", "Anker", "Soundcore", "Soundcore Space One", 99, "entry", "noise_cancelling wireless ldac long_battery", "Over-Ear Headphones"),
    # speakers
    _m("speakers", "Sony", "ULT", "ULT FIELD 1", 129, "entry", "wireless waterproof portable", "Portable Speaker", code="SRS-ULT10"),
    _m("speakers", "Sony", "ULT", "ULT FIELD 7", 499, "high", "wireless waterproof long_battery", "Party Speaker", code="SRS-ULT70"),
    _m("speakers", "Sony", "BRAVIA Theatre", "BRAVIA Theatre Bar 9", 1399, "high", "wireless", "Dolby Atmos Soundbar", code="HT-A9000"),
    _m("speakers", "Sony", "BRAVIA Theatre", "BRAVIA Theatre Quad", 2499, "professional", "wireless hi_res_audio minimalist_design", "Home Theatre System", code="HT-A9M2"),
    _m("speakers", "Sony", "SRS", "SRS-XB100", 59, "entry", "wireless waterproof portable lightweight", "Portable Speaker"),
    _m("speakers", "JBL", "Flip", "Flip 6", 129, "mid", "wireless waterproof portable", "Portable Speaker", weight=1.5),
    _m("speakers", "JBL", "Charge", "Charge 5", 179, "mid", "wireless waterproof long_battery portable", "Portable Speaker"),
    _m("speakers", "JBL", "Go", "Go 4", 49, "entry", "wireless waterproof portable", "Portable Speaker"),
    _m("speakers", "JBL", "PartyBox", "PartyBox 310", 499, "high", "wireless long_battery", "Party Speaker"),
    _m("speakers", "Bose", "SoundLink", "SoundLink Flex", 149, "mid", "wireless waterproof portable", "Portable Speaker"),
    _m("speakers", "Bose", "SoundLink", "SoundLink Max", 399, "high", "wireless waterproof long_battery portable", "Portable Speaker"),
    _m("speakers", "Bose", "Soundbar", "Smart Soundbar", 499, "high", "wireless minimalist_design", "Soundbar"),
    _m("speakers", "Sonos", "Era", "Era 100", 249, "mid", "wireless minimalist_design", "Smart Speaker"),
    _m("speakers", "Sonos", "Era", "Era 300", 449, "high", "wireless minimalist_design hi_res_audio", "Smart Speaker"),
    _m("speakers", "Sonos", "Arc", "Arc Ultra", 999, "high", "wireless minimalist_design", "Soundbar"),
    # tvs
    _m("tvs", "Sony", "BRAVIA", "BRAVIA 9", 3299, "high", "4k hdr 120hz", "Mini LED Google TV", code="K-{size}XR90", sizes=(65, 75, 85), weight=1.5),
    _m("tvs", "Sony", "BRAVIA", "BRAVIA 8 II", 3299, "professional", "4k hdr 120hz oled", "QD-OLED Google TV", code="K-{size}XR80M2", sizes=(55, 65)),
    _m("tvs", "Sony", "BRAVIA", "BRAVIA 7", 1799, "mid", "4k hdr 120hz", "Mini LED Google TV", code="K-{size}XR70", sizes=(50, 55, 65, 75, 85), weight=1.5),
    _m("tvs", "Sony", "BRAVIA", "BRAVIA 3", 899, "entry", "4k hdr", "LED Google TV", code="K-{size}S30", sizes=(43, 50, 55, 65, 75, 85)),
    _m("tvs", "Sony", "BRAVIA", "BRAVIA XR A95L", 3499, "professional", "4k hdr 120hz oled", "QD-OLED Google TV", code="XR-{size}A95L", sizes=(55, 65, 77)),
    _m("tvs", "Sony", "BRAVIA", "BRAVIA XR X90L", 1299, "mid", "4k hdr 120hz for_gamers", "Full Array LED Google TV", code="XR-{size}X90L", sizes=(55, 65, 75, 85)),
    _m("tvs", "LG", "OLED", "OLED evo C4", 1999, "high", "4k hdr 120hz oled for_gamers", "Smart TV", code="OLED{size}C4", sizes=(42, 48, 55, 65, 77, 83), weight=1.5),
    _m("tvs", "LG", "OLED", "OLED evo G4", 2999, "professional", "4k hdr 120hz oled minimalist_design", "Smart TV", code="OLED{size}G4", sizes=(55, 65, 77, 83)),
    _m("tvs", "LG", "OLED", "OLED B4", 1299, "mid", "4k hdr 120hz oled", "Smart TV", code="OLED{size}B4", sizes=(48, 55, 65, 77)),
    _m("tvs", "Samsung", "Neo QLED", "Neo QLED 8K QN900D", 4999, "professional", "8k hdr 120hz", "Smart TV", code="QN{size}QN900D", sizes=(65, 75, 85)),
    _m("tvs", "Samsung", "Neo QLED", "Neo QLED QN90D", 1999, "high", "4k hdr 120hz for_gamers", "Smart TV", code="QN{size}QN90D", sizes=(50, 55, 65, 75, 85)),
    _m("tvs", "Samsung", "OLED", "OLED S90D", 1899, "high", "4k hdr 120hz oled", "Smart TV", code="QN{size}S90D", sizes=(55, 65, 77)),
    _m("tvs", "Samsung", "Crystal UHD", "Crystal UHD DU7200", 499, "entry", "4k hdr", "Smart TV", code="UN{size}DU7200", sizes=(43, 50, 55, 65, 75)),
    _m("tvs", "TCL", "QM8", "QM8 Mini LED", 1299, "mid", "4k hdr 120hz for_gamers", "Google TV", code="{size}QM851G", sizes=(65, 75, 85)),
    _m("tvs", "TCL", "Q", "Q6 QLED", 499, "entry", "4k hdr", "Google TV", code="{size}Q651G", sizes=(43, 55, 65, 75)),
    # game consoles
    _m("game_consoles", "Sony", "PlayStation", "PlayStation 5 Console", 499, "mid", _PS, "Console", alias="PS5", variants=_CONSOLE_DISC, weight=2.5),
    _m("game_consoles", "Sony", "PlayStation", "PlayStation 5 Pro Console", 699, "high", _PS + " 8k", "Console", alias="PS5 Pro", variants=(("2TB", 1.0), ("2TB with Disc Drive", 1.1)), weight=2.0),
    _m("game_consoles", "Sony", "PlayStation", "PlayStation VR2", 349, "mid", "oled hdr for_gamers", "VR Headset", alias="PS VR2"),
    _m("game_consoles", "Microsoft", "Xbox", "Xbox Series X", 499, "mid", "4k 120hz backward_compatible for_gamers", "Console", variants=(("1TB", 1.0), ("2TB Galaxy Black", 1.2), ("Digital Edition", 0.9))),
    _m("game_consoles", "Microsoft", "Xbox", "Xbox Series S", 379, "entry", "120hz backward_compatible for_gamers", "Console", variants=(("512GB", 0.85), ("1TB", 1.0))),
    _m("game_consoles", "Nintendo", "Switch", "Switch 2", 449, "mid", "4k 120hz portable for_gamers backward_compatible", "Console", variants=(("Console", 1.0), ("Mario Kart World Bundle", 1.1))),
    _m("game_consoles", "Nintendo", "Switch", "Switch OLED Model", 349, "entry", "oled portable for_gamers", "Console"),
    _m("game_consoles", "ASUS", "ROG", "ROG Ally X", 799, "high", "120hz portable for_gamers", "Handheld Gaming PC"),
    # phones
    _m("phones", "Sony", "Xperia", "Xperia 1 VI", 1399, "high", "oled 120hz 4k hi_res_audio professional", "5G Smartphone", screen=6.5, mah=5000, weight=1.3),
    _m("phones", "Sony", "Xperia", "Xperia 10 VI", 449, "entry", "lightweight", "5G Smartphone", screen=6.1, mah=5000),
    _m("phones", "Sony", "Xperia", "Xperia 5 V", 999, "mid", "oled 120hz 4k portable", "5G Smartphone", screen=6.1, mah=5000),
    _m("phones", "Apple", "iPhone", "iPhone 16", 799, "mid", "oled 4k", "Smartphone", screen=6.1, weight=1.5),
    _m("phones", "Apple", "iPhone", "iPhone 16 Pro", 999, "high", "oled 120hz 4k professional", "Smartphone", screen=6.3, weight=1.5),
    _m("phones", "Apple", "iPhone", "iPhone 16 Pro Max", 1199, "high", "oled 120hz 4k long_battery", "Smartphone", screen=6.9),
    _m("phones", "Apple", "iPhone", "iPhone 16e", 599, "entry", "oled", "Smartphone", screen=6.1),
    _m("phones", "Samsung", "Galaxy", "Galaxy S25 Ultra", 1299, "high", "oled 120hz 8k fast_charging", "5G Smartphone", screen=6.9, mah=5000),
    _m("phones", "Samsung", "Galaxy", "Galaxy S25", 799, "mid", "oled 120hz 8k", "5G Smartphone", screen=6.2, mah=4000),
    _m("phones", "Samsung", "Galaxy", "Galaxy A56", 449, "entry", "oled 120hz fast_charging", "5G Smartphone", screen=6.7, mah=5000),
    _m("phones", "Samsung", "Galaxy", "Galaxy Z Flip6", 1099, "high", "oled 120hz portable", "Foldable Smartphone", screen=6.7, mah=4000),
    _m("phones", "Google", "Pixel", "Pixel 9 Pro", 999, "high", "oled 120hz 4k", "Smartphone", screen=6.3, mah=4700),
    _m("phones", "Google", "Pixel", "Pixel 9", 799, "mid", "oled 120hz", "Smartphone", screen=6.3, mah=4700),
    _m("phones", "Google", "Pixel", "Pixel 9a", 499, "entry", "oled 120hz", "Smartphone", screen=6.3, mah=5100),
    # laptops
    _m("laptops", "Dell", "XPS", "XPS 13", 1399, "high", "lightweight for_business minimalist_design", "Laptop", screen=13.4),
    _m("laptops", "Dell", "XPS", "XPS 14", 1699, "high", "oled for_business", "Laptop", screen=14.5),
    _m("laptops", "Dell", "XPS", "XPS 16", 2199, "professional", "oled professional", "Laptop", screen=16.3),
    _m("laptops", "Apple", "MacBook", "MacBook Air M4", 999, "mid", "lightweight long_battery minimalist_design", "Laptop", screen=13.6, weight=1.5),
    _m("laptops", "Apple", "MacBook", "MacBook Air M4 15-inch", 1199, "mid", "lightweight long_battery minimalist_design", "Laptop", screen=15.3),
    _m("laptops", "Apple", "MacBook", "MacBook Pro M4 Pro", 1999, "high", "long_battery professional", "Laptop", screen=14.2),
    _m("laptops", "Apple", "MacBook", "MacBook Pro M4 Max", 3499, "professional", "long_battery professional", "Laptop", screen=16.2),
    _m("laptops", "Lenovo", "ThinkPad", "ThinkPad X1 Carbon Gen 13", 1899, "high", "for_business lightweight long_battery", "Business Laptop", screen=14.0),
    _m("laptops", "Lenovo", "ThinkPad", "ThinkPad T14s Gen 6", 1399, "mid", "for_business long_battery", "Business Laptop", screen=14.0),
    _m("laptops", "Lenovo", "ThinkPad", "ThinkPad E14 Gen 6", 799, "entry", "for_business", "Business Laptop", screen=14.0),
    _m("laptops", "ASUS", "ROG", "ROG Zephyrus G14", 1599, "high", "for_gamers oled 120hz lightweight", "Gaming Laptop", screen=14.0),
    _m("laptops", "ASUS", "ROG", "ROG Strix G16", 1899, "high", "for_gamers 120hz", "Gaming Laptop", screen=16.0),
    _m("laptops", "ASUS", "ROG", "ROG Strix SCAR 18", 3299, "professional", "for_gamers 120hz professional", "Gaming Laptop", screen=18.0),
    _m("laptops", "ASUS", "Zenbook", "Zenbook 14 OLED", 899, "entry", "oled lightweight long_battery", "Laptop", screen=14.0),
    # accessories
    _m("accessories", "Sony", "PlayStation", "DualSense Wireless Controller", 74.99, "mid", "wireless for_gamers", "for PS5", compat="game_consoles", variants=(("White", 1.0), ("Midnight Black", 1.0), ("Cosmic Red", 1.0), ("Volcanic Red", 1.0)), weight=2.5),
    _m("accessories", "Sony", "PlayStation", "DualSense Edge Wireless Controller", 199.99, "high", "wireless for_gamers professional", "for PS5", compat="game_consoles"),
    _m("accessories", "Sony", "PlayStation", "DualSense Charging Station", 39.99, "entry", "", "for PS5", compat="game_consoles"),
    _m("accessories", "Sony", "Alpha", "NP-FZ100 Rechargeable Battery Pack", 78, "mid", "", "for Alpha Cameras", compat="cameras", mah=2280),
    _m("accessories", "Sony", "Alpha", "GP-VPT2BT Wireless Shooting Grip", 139, "mid", "wireless lightweight", "for Alpha and ZV Cameras", compat="cameras"),
    _m("accessories", "Sony", "Alpha", "CFexpress Type A TOUGH Memory Card", 199, "professional", "professional", "", compat="cameras", variants=(("80GB", 0.75), ("160GB", 1.0))),
    _m("accessories", "Microsoft", "Xbox", "Xbox Wireless Controller", 59.99, "mid", "wireless for_gamers", "", compat="game_consoles"),
    _m("accessories", "Nintendo", "Switch", "Switch Pro Controller", 69.99, "mid", "wireless for_gamers", "", compat="game_consoles"),
    _m("accessories", "Anker", "PowerCore", "737 Power Bank 24K", 109, "high", "fast_charging portable", "", compat="phones", mah=24000),
    _m("accessories", "Anker", "PowerCore", "313 Power Bank 10K", 21.99, "entry", "portable", "", compat="phones", mah=10000),
    _m("accessories", "Anker", "Nano", "Nano Charger 65W", 45.99, "mid", "fast_charging portable lightweight", "USB-C Charger", compat="laptops"),
    _m("accessories", "Anker", "Nano", "Nano Charger 30W", 22.99, "entry", "fast_charging portable", "USB-C Charger", compat="phones"),
    _m("accessories", "SanDisk", "Extreme PRO", "Extreme PRO SDXC UHS-I Card", 29.99, "mid", "professional", "", compat="cameras", variants=_CARD, weight=1.5),
    _m("accessories", "SanDisk", "Extreme", "Extreme microSDXC Card", 24.99, "entry", "", "for Phones and Switch", compat="phones", variants=_CARD),
    _m("accessories", "SanDisk", "Extreme", "Extreme Portable SSD", 119, "mid", "portable waterproof", "", compat="laptops", variants=(("1TB", 1.0), ("2TB", 1.55))),
    _m("accessories", "Logitech", "MX", "MX Master 3S Wireless Mouse", 99.99, "high", "wireless for_business", "", compat="laptops"),
    _m("accessories", "Logitech", "MX", "MX Keys S Wireless Keyboard", 109.99, "high", "wireless for_business minimalist_design", "", compat="laptops"),
    _m("accessories", "Logitech", "G", "G502 X Gaming Mouse", 79.99, "mid", "for_gamers", "", compat="laptops"),
    _m("accessories", "Logitech", "G", "G PRO X SUPERLIGHT 2 Mouse", 159, "high", "for_gamers wireless lightweight", "", compat="laptops"),
    _m("accessories", "Logitech", "Brio", "Brio 4K Webcam", 199, "high", "4k for_business", "", compat="laptops"),
    _m("accessories", "Belkin", "Connect", "Ultra High Speed HDMI 2.1 Cable", 29.99, "mid", "8k", "2 m", compat="tvs"),
    _m("accessories", "Sanus", "Premium", "Full-Motion TV Wall Mount", 129, "mid", "", "for 42-90 inch TVs", compat="tvs"),
    _m("accessories", "Spigen", "Ultra Hybrid", "Ultra Hybrid Case", 15.99, "entry", "lightweight", "for iPhone 16", compat="phones", variants=(("Crystal Clear", 1.0), ("Matte Black", 1.0))),
    _m("accessories", "Rode", "Wireless", "Wireless GO II Microphone System", 199, "professional", "wireless professional", "", compat="cameras"),
    _m("accessories", "Joby", "GorillaPod", "GorillaPod 3K Tripod Kit", 59.95, "mid", "lightweight portable", "", compat="cameras"),
    _m("accessories", "FiiO", "BTR", "BTR7 Bluetooth DAC Amplifier", 199, "high", "wireless hi_res_audio ldac portable", "", compat="audio"),
    _m("accessories", "Sony", "1000X", "Headphone Carrying Case", 29.99, "entry", "", "for WH-1000X Series", compat="audio"),
    _m("accessories", "AudioQuest", "DragonFly", "DragonFly Red USB DAC", 199, "high", "hi_res_audio portable", "", compat="audio"),
)
# fmt: on
