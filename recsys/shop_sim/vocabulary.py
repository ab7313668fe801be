"""The shop's words: categories, tiers, feature flags and the phrases that carry them.

Every phrase below carries exactly one feature, and the generic sentences carry none, so
the features a text mentions are known exactly (the tagger's ground truth).
"""

from __future__ import annotations

CATEGORIES: tuple[str, ...] = (
    "cameras",
    "lenses",
    "headphones",
    "speakers",
    "tvs",
    "game_consoles",
    "phones",
    "laptops",
    "accessories",
)
TIERS: tuple[str, ...] = ("entry", "mid", "high", "professional")
DEVICES: tuple[str, ...] = ("desktop", "mobile", "tablet", "app")
PLACEMENTS: tuple[str, ...] = ("home", "search", "category", "item", "cart")
EVENT_TYPES: tuple[str, ...] = ("impression", "click", "view", "cart", "purchase")
CURRENCY = "USD"

FEATURES: tuple[str, ...] = (
    "noise_cancelling",
    "wireless",
    "hi_res_audio",
    "ldac",
    "4k",
    "8k",
    "oled",
    "hdr",
    "120hz",
    "full_frame",
    "aps_c",
    "weather_sealed",
    "lightweight",
    "minimalist_design",
    "professional",
    "for_gamers",
    "for_business",
    "backward_compatible",
    "long_battery",
    "fast_charging",
    "waterproof",
    "portable",
)

# Share of the catalog's listings per category (accessories are the long tail).
CATEGORY_SHARE: dict[str, float] = {
    "cameras": 0.08,
    "lenses": 0.09,
    "headphones": 0.14,
    "speakers": 0.08,
    "tvs": 0.10,
    "game_consoles": 0.05,
    "phones": 0.10,
    "laptops": 0.08,
    "accessories": 0.28,
}
# Shop prices stay inside these bounds (USD).
PRICE_RANGE: dict[str, tuple[float, float]] = {
    "cameras": (500.0, 6500.0),
    "lenses": (200.0, 3000.0),
    "headphones": (30.0, 600.0),
    "speakers": (40.0, 2500.0),
    "tvs": (300.0, 5000.0),
    "game_consoles": (300.0, 800.0),
    "phones": (200.0, 1600.0),
    "laptops": (500.0, 3500.0),
    "accessories": (10.0, 200.0),
}

# Feature words in titles (one per feature, title case).
TITLE_WORDS: dict[str, str] = {
    "noise_cancelling": "Noise Cancelling",
    "wireless": "Wireless",
    "hi_res_audio": "Hi-Res Audio",
    "ldac": "LDAC",
    "4k": "4K",
    "8k": "8K",
    "oled": "OLED",
    "hdr": "HDR",
    "120hz": "120Hz",
    "full_frame": "Full-Frame",
    "aps_c": "APS-C",
    "weather_sealed": "Weather-Sealed",
    "lightweight": "Lightweight",
    "professional": "Professional",
    "for_gamers": "Gaming",
    "for_business": "Business",
    "waterproof": "Waterproof",
    "portable": "Portable",
}

FEATURE_SENTENCES: dict[str, tuple[str, ...]] = {
    "noise_cancelling": (
        "Industry-leading noise cancelling shuts out the commute, the office and the plane.",
        "Active Noise Cancelling (ANC) adapts to your surroundings in real time.",
        "Adaptive noise cancellation keeps distractions out, so you hear only the music.",
        "Dual-processor noise-canceling with eight microphones.",
    ),
    "wireless": (
        "Connects over Bluetooth 5.3 with multipoint pairing.",
        "Fully wireless, so there is no cable to tangle.",
        "Stream wirelessly from your phone in seconds with Bluetooth.",
        "A stable wireless connection up to 10 m away.",
    ),
    "hi_res_audio": (
        "Certified Hi-Res Audio reproduces the detail of studio masters.",
        "Supports High-Resolution Audio for every nuance of the recording.",
        "Hi-Res Audio playback with a wide, natural soundstage.",
    ),
    "ldac": (
        "LDAC transmits about three times more data than standard codecs.",
        "With LDAC, streams keep their detail at up to 990 kbps.",
    ),
    "4k": (
        "Shoots 4K video at up to 60p with full pixel readout.",
        "Delivers crisp 4K detail.",
        "True 4K Ultra HD resolution.",
        "Upscales everything to 4K.",
    ),
    "8k": (
        "Records 8K video for cropping and reframing in post.",
        "An 8K picture with 33 million pixels.",
        "8K resolution for the sharpest image we sell.",
    ),
    "oled": (
        "Self-lit OLED pixels give perfect blacks and infinite contrast.",
        "The OLED panel shows deep blacks and vivid colour from any angle.",
        "A bright OLED display.",
    ),
    "hdr": (
        "HDR10 and Dolby Vision make highlights pop.",
        "Supports HDR for brighter highlights and richer shadows.",
        "Dolby Vision brings cinema-grade contrast home.",
    ),
    "120hz": (
        "A 120Hz refresh rate keeps fast motion smooth.",
        "Up to 120 Hz for fluid scrolling and motion.",
        "Runs at 120Hz with variable refresh rate (VRR).",
    ),
    "full_frame": (
        "Its full-frame sensor gathers more light for cleaner images at night.",
        "A 35mm full-frame sensor gives a shallow depth of field.",
        "Full frame coverage with no crop.",
    ),
    "aps_c": (
        "The APS-C sensor gives extra reach for wildlife and sports.",
        "Built around an APS-C sensor.",
        "Made for the APS-C format.",
    ),
    "weather_sealed": (
        "A weather-sealed magnesium-alloy body for rain and dust.",
        "Dust and moisture resistant design for work outdoors.",
        "Weather sealed at every button and dial.",
    ),
    "lightweight": (
        "Lightweight enough to carry all day.",
        "An ultra-light build that travels anywhere.",
        "At its weight it is one of the lightest in its class: truly lightweight.",
    ),
    "minimalist_design": (
        "A minimalist design that blends into any room.",
        "Clean, minimalist design with no clutter.",
    ),
    "professional": (
        "Built for professional workloads and demanding creators.",
        "Pro-grade build and controls, made for professional work.",
        "The choice of professional creators.",
    ),
    "for_gamers": (
        "Made for gamers, with a low-latency game mode.",
        "Tuned for gaming with minimal input lag.",
        "Built for gamers who want every frame.",
    ),
    "for_business": (
        "Designed for business, with enterprise-grade security.",
        "A dependable choice for business travel and the office.",
        "Business-ready with remote management support.",
    ),
    "backward_compatible": (
        "Backward compatible with thousands of last-generation games.",
        "Backwards compatible, so your existing library comes with you.",
    ),
    "long_battery": (
        "An all-day battery that keeps going.",
        "Up to 30 hours of battery life on a single charge.",
        "Long battery life for trips, workdays and weekends.",
    ),
    "fast_charging": (
        "Fast charging gives hours of use from a few minutes on the plug.",
        "Supports fast charging over USB-C.",
        "Rapid charging to 50% in about 30 minutes.",
    ),
    "waterproof": (
        "IP67 waterproof and dustproof, ready for the beach.",
        "Water-resistant, so a splash or rain shower is no problem.",
        "Waterproof to 1 m for 30 minutes.",
    ),
    "portable": (
        "Portable and easy to pack.",
        "A compact size that fits in any bag.",
        "Travel-friendly and portable.",
    ),
}

# Sentences that name a feature the item does NOT have (for the tagger's negation tests).
NEGATION_SENTENCES: dict[str, tuple[str, ...]] = {
    "noise_cancelling": (
        "Please note: this model is without noise cancelling.",
        "There is no active noise cancelling (ANC) on this model.",
        "It does not offer noise cancellation, which keeps the sound open and natural.",
    ),
    "wireless": (
        "This is a wired model, not wireless.",
        "Not wireless: it connects with the included cable only.",
        "No Bluetooth; it uses a wired connection.",
    ),
    "hi_res_audio": ("Not Hi-Res Audio certified.",),
    "4k": ("Records in Full HD, not 4K.", "Full HD (1080p) output, not 4K."),
    "oled": ("The panel is LED, not OLED.", "It uses an LCD panel rather than OLED."),
    "120hz": ("The panel runs at 60Hz, not 120Hz.",),
    "weather_sealed": ("Not weather-sealed, so keep it dry in the rain.",),
    "full_frame": ("It uses a smaller sensor, not full-frame.",),
    "waterproof": ("Not waterproof; keep it away from the pool.",),
    "backward_compatible": ("Not backward compatible with previous-generation discs.",),
    "fast_charging": ("Does not support fast charging.",),
}
NEGATABLE: dict[str, tuple[str, ...]] = {
    "cameras": ("weather_sealed", "full_frame", "4k"),
    "lenses": ("weather_sealed",),
    "headphones": ("noise_cancelling", "wireless", "hi_res_audio"),
    "speakers": ("waterproof", "wireless", "hi_res_audio"),
    "tvs": ("oled", "120hz"),
    "game_consoles": ("backward_compatible", "4k"),
    "phones": ("fast_charging",),
    "laptops": ("oled",),
    "accessories": ("wireless", "fast_charging", "waterproof"),
}
# Marketing claims a listing may add on its own, beyond the model's real features.
CLAIMABLE: dict[str, tuple[str, ...]] = {
    "cameras": ("lightweight",),
    "lenses": ("lightweight",),
    "headphones": ("lightweight", "minimalist_design", "portable"),
    "speakers": ("minimalist_design", "portable"),
    "tvs": ("minimalist_design",),
    "game_consoles": (),
    "phones": ("lightweight", "minimalist_design"),
    "laptops": ("lightweight", "minimalist_design"),
    "accessories": ("portable", "lightweight"),
}

CATEGORY_INTROS: dict[str, tuple[str, ...]] = {
    "cameras": (
        "Capture stills and video with {name}.",
        "{name} puts fast autofocus and rich colour in your hands.",
        "Meet {name}, a camera that keeps up with you.",
    ),
    "lenses": (
        "{name} renders sharp detail from edge to edge.",
        "Add {name} to your kit for beautiful bokeh and crisp subjects.",
    ),
    "headphones": (
        "{name} brings rich, detailed sound wherever you go.",
        "Enjoy your music with {name}.",
        "Comfort and clarity come together in {name}.",
    ),
    "speakers": (
        "{name} fills the room with big, clear sound.",
        "Bring the party with {name}.",
    ),
    "tvs": (
        "{name} brings films, sport and series to life.",
        "Watch in stunning detail on {name}.",
    ),
    "game_consoles": (
        "Play the latest blockbusters on {name}.",
        "{name} loads worlds in seconds.",
    ),
    "phones": (
        "{name} keeps you connected, creative and productive.",
        "Say hello to {name}.",
    ),
    "laptops": (
        "{name} handles work, study and creative projects with ease.",
        "Get more done with {name}.",
    ),
    "accessories": (
        "{name} is the accessory your setup was missing.",
        "Upgrade your setup with {name}.",
    ),
}
CLOSINGS: tuple[str, ...] = (
    "Includes a 2-year manufacturer warranty.",
    "In the box: the product, a USB-C cable, and a quick-start guide.",
    'Our staff call it "the one to beat" in its price range.',
    "Free returns within 30 days, no questions asked.",
    "Ships in recycled, plastic-free packaging.",
    "Register it online for an extended warranty.",
    "",
)
COLOURS: tuple[str, ...] = (
    "Black",
    "Silver",
    "White",
    "Midnight Blue",
    "Graphite",
    "Platinum Silver",
    "Smoky Pink",
    "Sand",
    "Forest Green",
)

MOUNTS: tuple[str, ...] = ("E", "RF", "Z", "X", "L", "fixed")
COMPAT: tuple[str, ...] = ("cameras", "phones", "laptops", "game_consoles", "audio", "tvs")
# A shelf is where an item sits in the shop: its category, split by lens mount or by what
# an accessory is for. Related-item widgets and complements work at shelf level.
SHELVES: tuple[str, ...] = (
    *(f"cameras/{m}" for m in MOUNTS),
    *(f"lenses/{m}" for m in MOUNTS if m != "fixed"),
    "headphones",
    "speakers",
    "tvs",
    "game_consoles",
    "phones",
    "laptops",
    *(f"accessories/{c}" for c in COMPAT),
)


def complements(shelf: str) -> tuple[tuple[str, float], ...]:
    """Shelves a shopper looks at next after an item on ``shelf``, with weights."""
    kind, _, sub = shelf.partition("/")
    if kind == "cameras":
        if sub == "fixed":
            return (("accessories/cameras", 1.0),)
        return ((f"lenses/{sub}", 0.55), ("accessories/cameras", 0.45))
    if kind == "lenses":
        return ((f"cameras/{sub}", 0.35), (f"lenses/{sub}", 0.3), ("accessories/cameras", 0.35))
    if kind == "accessories":
        targets = {
            "cameras": (("cameras/E", 0.35), ("lenses/E", 0.15), ("accessories/cameras", 0.5)),
            "phones": (("phones", 0.6), ("accessories/phones", 0.4)),
            "laptops": (("laptops", 0.6), ("accessories/laptops", 0.4)),
            "game_consoles": (("game_consoles", 0.6), ("accessories/game_consoles", 0.4)),
            "audio": (("headphones", 0.5), ("speakers", 0.5)),
            "tvs": (("tvs", 0.6), ("accessories/tvs", 0.4)),
        }
        return targets[sub]
    plain: dict[str, tuple[tuple[str, float], ...]] = {
        "headphones": (("phones", 0.4), ("accessories/audio", 0.3), ("speakers", 0.3)),
        "speakers": (("headphones", 0.4), ("tvs", 0.3), ("accessories/audio", 0.3)),
        "tvs": (("game_consoles", 0.35), ("speakers", 0.4), ("accessories/tvs", 0.25)),
        "game_consoles": (
            ("accessories/game_consoles", 0.6),
            ("tvs", 0.25),
            ("headphones", 0.15),
        ),
        "phones": (("headphones", 0.4), ("accessories/phones", 0.5), ("speakers", 0.1)),
        "laptops": (("accessories/laptops", 0.6), ("headphones", 0.3), ("phones", 0.1)),
    }
    return plain[kind]
