"""A synthetic electronics catalog with realistic titles and descriptions, for the speed benchmark.

Titles follow the shop's real naming (``Sony WH-1000XM5 Wireless Noise Cancelling
Headphones``, ``Sony 65" BRAVIA XR A80L 4K OLED``); descriptions are a few sentences drawn
from per-category pools with random numbers, colours and model codes, so almost every item
has a distinct text and the engine cannot profit from duplicates. Deterministic per seed.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

# (brand, title template, median price USD); {size} {mp} {mah} {hz} {gb} {code} are filled per item.
_MODELS: dict[str, list[tuple[str, str, float]]] = {
    "cameras": [
        ("Sony", "Sony Alpha 7 IV Full-Frame Mirrorless Camera {mp}MP Body", 2499),
        ("Sony", "Sony α7R V Mirrorless Camera, {mp}MP full frame", 3899),
        ("Sony", "Sony ILCE-7M4 Alpha 7 IV Body Only", 2399),
        ("Sony", "Sony Alpha 6400 APS-C Mirrorless Camera with 16-50mm Lens", 999),
        ("Sony", "Sony FX3 Cinema Line Full-Frame Camera", 3899),
        ("Sony", "Sony FX30 Cinema Line APS-C Camera Body", 1799),
        ("Sony", "Sony ZV-1 II Vlog Camera for Content Creators", 899),
        ("Sony", "Sony Cyber-shot RX100 VII Compact Camera", 1299),
        ("Canon", "Canon EOS R6 Mark II Full-Frame Mirrorless {mp}MP", 2499),
        ("Nikon", "Nikon Z6 II Mirrorless Camera {mp}MP", 1999),
        ("Fujifilm", "Fujifilm X-T5 APS-C {mp}MP Mirrorless Camera, Silver", 1699),
        ("GoPro", "GoPro HERO12 Black Action Camera {code}", 399),
        ("Canon", "Canon PowerShot G7 X Mark III", 749),
    ],
    "lenses": [
        ("Sony", "Sony FE 24-70mm F2.8 GM II (SEL2470GM2)", 2299),
        ("Sony", "Sony FE 70-200mm F2.8 GM OSS II", 2799),
        ("Sony", "Sony G Master FE 85mm F1.4 Prime Lens", 1799),
        ("Sony", "Sony E 16-55mm F2.8 G (SEL1655G)", 1399),
        ("Sony", "Sony FE 50mm F1.8 (SEL50F18F)", 249),
        ("Sony", "Sony E PZ 18-105mm F4 G OSS", 599),
        ("Sigma", "Sigma 35mm F1.4 DG DN Art for Sony E-mount", 899),
        ("Tamron", "Tamron 28-75mm F/2.8 Di III VXD G2 for Sony E", 899),
        ("Canon", "Canon RF 24-105mm F4 L IS USM", 1399),
        ("Nikon", "Nikon NIKKOR Z 50mm f/1.8 S", 599),
    ],
    "headphones": [
        ("Sony", "Sony WH-1000XM5 Wireless Noise Cancelling Headphones - {colour}", 399),
        ("Sony", "Sony WF-1000XM5 Truly Wireless Noise Canceling Earbuds", 299),
        ("Sony", "Sony WH-CH720N Noise-Cancelling Wireless Headphones", 149),
        ("Sony", "Sony MDR-7506 Professional Studio Headphones", 99),
        ("Bose", "Bose QuietComfort Ultra Headphones, ANC, {colour}", 429),
        ("Apple", "Apple AirPods Pro (2nd generation) with USB-C", 249),
        ("Sennheiser", "Sennheiser HD 560S Open-Back Audiophile Headphones", 199),
        ("JBL", "JBL Tune 510BT Bluetooth On-Ear Headphones - {colour}", 49),
        ("Audio-Technica", "Audio-Technica ATH-M50x Studio Monitor Headphones", 169),
        ("Beats", "Beats Studio Pro Wireless Headphones {colour}", 349),
    ],
    "speakers": [
        ("Sony", "Sony SRS-XB100 Portable Bluetooth Speaker - {colour}", 59),
        ("Sony", "Sony ULT FIELD 1 Wireless Portable Speaker", 129),
        ("Sony", "Sony HT-A7000 7.1.2ch Dolby Atmos Soundbar", 1299),
        ("Sonos", "Sonos Era 100 Smart Speaker with Alexa", 249),
        ("JBL", "JBL Charge 5 Portable Waterproof Speaker", 179),
        ("Bose", "Bose SoundLink Flex Bluetooth Speaker", 149),
        ("Amazon", "Amazon Echo Dot (5th Gen) with Alexa, {colour}", 49),
        ("Marshall", "Marshall Stanmore III Home Speaker", 379),
    ],
    "tvs": [
        ("Sony", 'Sony {size}" BRAVIA XR A80L 4K OLED Google TV', 2199),
        ("Sony", "Sony {size}-inch BRAVIA 7 Mini LED 4K HDR TV", 1799),
        ("Sony", "Sony BRAVIA 9 {size} in 4K Mini LED Smart TV", 2999),
        ("Sony", 'Sony {size}" X80K 4K HDR LED TV', 899),
        ("Samsung", 'Samsung {size}" QN900D 8K Neo QLED Smart TV', 4999),
        ("LG", "LG {size} in C3 OLED evo 4K {hz}Hz TV", 1999),
        ("TCL", "TCL {size}-Inch Q6 4K QLED HDR Smart TV", 549),
        ("Hisense", 'Hisense {size}" U8 Mini-LED ULED 4K TV', 1099),
    ],
    "game_consoles": [
        ("Sony", "Sony PlayStation 5 Slim Console {gb}GB", 499),
        ("Sony", "Sony PlayStation 5 Digital Edition", 449),
        ("Sony", "Sony PS5 Pro Console 2TB", 699),
        ("Sony", "Sony DualSense Wireless Controller - {colour}", 69),
        ("Sony", "Sony PlayStation VR2 Headset", 549),
        ("Sony", "PlayStation Portal Remote Player", 199),
        ("Microsoft", "Microsoft Xbox Series X 1TB Console", 499),
        ("Nintendo", "Nintendo Switch OLED Model - {colour}", 349),
        ("Valve", "Valve Steam Deck OLED {gb}GB", 549),
    ],
    "phones": [
        ("Sony", "Sony Xperia 1 V 5G {gb}GB - {colour}", 1399),
        ("Sony", "Sony Xperia 10 VI {gb}GB, {mah} mAh", 449),
        ("Samsung", "Samsung Galaxy S24 Ultra {gb}GB {mah}mAh", 1299),
        ("Apple", "Apple iPhone 15 Pro {gb}GB {colour}", 999),
        ("Google", "Google Pixel 8 Pro {gb}GB - {colour}", 899),
        ("Motorola", "Motorola moto g power 5G {mah} mAh", 249),
    ],
    "laptops": [
        ("Lenovo", "Lenovo ThinkPad X1 Carbon Gen 12 14-inch {gb}GB SSD", 1899),
        ("HP", 'HP EliteBook 840 G10 14" Business Laptop', 1499),
        ("Dell", "Dell XPS 13 Plus {gb}GB", 1299),
        ("Apple", "Apple MacBook Air 13-inch M3 {gb}GB - {colour}", 1099),
        ("ASUS", 'ASUS ROG Strix G16 Gaming Laptop 16" {hz}Hz', 1599),
        ("Acer", "Acer Swift Go 14 OLED Ultra-Thin Laptop", 799),
        ("MSI", "MSI Katana 15 Gaming Laptop {hz}Hz {code}", 999),
    ],
    "accessories": [
        ("Sony", "Sony NP-FZ100 Rechargeable Battery Pack", 79),
        ("Sony", "Sony ECM-B10 Compact Shotgun Microphone", 249),
        ("Belkin", "USB-C to Lightning Cable for iPhone, 2m", 19),
        ("Anker", "Anker PowerCore {mah} mAh Portable Charger", 49),
        ("SanDisk", "SanDisk Extreme PRO {gb}GB SDXC Card", 39),
        ("Peak Design", "Peak Design Everyday Backpack 20L - {colour}", 279),
        ("Ugreen", "HDMI 2.1 Cable 8K 48Gbps {code}", 15),
        ("Sony", "Sony GP-VPT2BT Wireless Shooting Grip", 139),
        ("Spigen", "Screen protector for iPhone 15 Pro, 2-pack", 12),
    ],
}

_SENTENCES: dict[str, list[str]] = {
    "cameras": [
        "{mp}-megapixel back-illuminated sensor with fast hybrid autofocus.",
        "Weather-sealed magnesium alloy body for outdoor shoots.",
        "Records 4K video at up to {hz}p with 10-bit colour.",
        "Interchangeable lens system built around the E-mount.",
        "Compact and lightweight, ideal for travel photography.",
        "Dual card slots and a professional-grade EVF.",
        "Great for vlogging and live streaming.",
        "Not weather-sealed; use a rain cover outdoors.",
        "HDR photo mode and in-body stabilisation.",
    ],
    "lenses": [
        "Designed for full-frame E-mount cameras.",
        "G Master optics with beautiful bokeh.",
        "Dust and moisture resistant design.",
        "Lightweight build of {w} g for travel.",
        "Fast linear motors for silent video autofocus.",
        "APS-C format lens for compact bodies.",
    ],
    "headphones": [
        "Industry-leading noise cancelling with two processors.",
        "Active Noise Cancellation (ANC) blocks out the world.",
        "Up to {hours} hours of battery life with quick charging.",
        "Hi-Res Audio and LDAC for wireless listening.",
        "Bluetooth 5.3 multipoint connection.",
        "Lightweight design for all-day comfort.",
        "Wired studio monitor headphones, not wireless.",
        "Open-back design without noise cancelling for a natural soundstage.",
        "Minimalist design in {colour}.",
        "Stylish and colorful finishes for every outfit.",
        "Built for audiophiles who want reference sound.",
    ],
    "speakers": [
        "Portable and waterproof with a {hours}-hour battery.",
        "Works with Alexa and Google Assistant.",
        "Dolby Atmos and 360 Reality Audio for your living room.",
        "Hi-Res Audio support over Wi-Fi.",
        "Pairs with Bluetooth or Wi-Fi; no wireless subwoofer included.",
        "Rugged design with a carry strap.",
        "Minimalist look that blends into any home.",
    ],
    "tvs": [
        "4K HDR with Dolby Vision and HDR10.",
        "{hz}Hz native refresh rate for gamers.",
        "OLED panel with perfect blacks.",
        "Google TV with Alexa and Google Assistant built in.",
        "Sleek minimalist design with a slim bezel.",
        "Upscales HD content to 4K.",
        "Acoustic Surface Audio for the home theater.",
        "Perfect for PS5 with auto HDR tone mapping.",
    ],
    "game_consoles": [
        "Backward compatible with most PS4 games.",
        "Play in 4K at up to {hz} fps with ray tracing.",
        "Haptic feedback and adaptive triggers.",
        "Ultra-high speed SSD with {gb}GB of storage.",
        "Designed for gamers who want fast loading.",
        "Wireless controller included; not backward compatible with discs.",
        "Portable play on a 7-inch OLED screen.",
    ],
    "phones": [
        "{mah} mAh battery for two days of use.",
        "Triple camera with a {mp}MP main sensor.",
        "{hz}Hz OLED display with HDR.",
        "5G, Wi-Fi 7 and Bluetooth 5.4.",
        "Slim and lightweight aluminium frame.",
        "Hi-Res Audio and a 3.5 mm jack.",
        "Colorful finishes, including {colour}.",
    ],
    "laptops": [
        "14-inch {hz}Hz display with HDR.",
        "Built for business with enterprise-grade security.",
        "Up to {hours} hours of battery life.",
        "Thin and light aluminium chassis.",
        "RGB keyboard for gamers.",
        "Wi-Fi 6E and Bluetooth 5.3.",
        "Microsoft Office ready for productivity.",
        "Military-grade durability tested to MIL-STD 810H.",
    ],
    "accessories": [
        "Compatible with Sony Alpha cameras.",
        "Charges your phone up to {n} times.",
        "Made for iPhone (MFi) certified.",
        "Supports 8K at 60Hz and 4K at {hz}Hz.",
        "Durable braided cable, {n} ft.",
        "Protects your gear on the go.",
        "Wireless remote with a {hours}-hour battery.",
    ],
}

_FILLER = [
    "Model {code}.",
    "Colour: {colour}.",
    "Includes a {n}-year limited warranty.",
    "Item weight {w} g.",
    "Ships in retail packaging.",
    "Box contents: user manual, quick start guide.",
    "Part number {code}-{n}.",
    "Energy efficient standby under 0.5 W.",
]
_COLOURS = ["Black", "Silver", "Midnight Blue", "White", "Graphite", "Rose Gold", "Forest Green", "Sand"]


def synthetic_catalog(n_items: int, seed: int = 7, today: date = date(2026, 1, 1)) -> pd.DataFrame:
    """``n_items`` items in the normalised catalog schema, sorted by item_id."""
    rng = np.random.default_rng(seed)
    categories = list(_MODELS)
    cat_idx = rng.integers(0, len(categories), n_items)
    model_pick = rng.random(n_items)
    n_sent = rng.integers(2, 5, n_items)
    sent_pick = rng.random((n_items, 4))
    filler_pick = rng.integers(0, len(_FILLER), n_items)
    nums = {
        "size": rng.choice([43, 50, 55, 65, 75, 77, 83, 85, 98], n_items),
        "mp": rng.choice([24, 26, 33, 40, 45, 50, 61], n_items),
        "mah": rng.choice([3000, 4500, 5000, 5500, 10000, 20000], n_items),
        "hz": rng.choice([60, 100, 120, 144, 165, 240], n_items),
        "gb": rng.choice([128, 256, 512, 825, 1024], n_items),
        "hours": rng.choice([8, 12, 20, 24, 30, 40, 50], n_items),
        "n": rng.integers(1, 10, n_items),
        "w": rng.integers(80, 1500, n_items),
        "code": rng.integers(10_000, 99_999, n_items),
    }
    colour = rng.integers(0, len(_COLOURS), n_items)
    price_noise = rng.lognormal(0.0, 0.25, n_items)
    age_days = rng.integers(0, 365, n_items)

    titles, descriptions, brands, prices = [], [], [], []
    for i in range(n_items):
        cat = categories[cat_idx[i]]
        models = _MODELS[cat]
        brand, template, median = models[int(model_pick[i] * len(models))]
        values: dict[str, int | str] = {k: int(v[i]) for k, v in nums.items()}
        code = int(nums["code"][i])
        values["code"] = f"{chr(65 + code % 26)}{code}"
        values["colour"] = _COLOURS[colour[i]]
        pool = _SENTENCES[cat]
        parts = list(dict.fromkeys(pool[int(sent_pick[i, j] * len(pool))] for j in range(n_sent[i])))
        parts.append(_FILLER[filler_pick[i]])
        titles.append(template.format(**values))
        descriptions.append(" ".join(parts).format(**values))
        brands.append(brand)
        prices.append(round(median * price_noise[i], 2))
    frame = pd.DataFrame(
        {
            "item_id": [f"SIM-{i:07d}" for i in range(n_items)],
            "title": titles,
            "description": descriptions,
            "brand": brands,
            "category": [categories[c] for c in cat_idx],
            "price": np.asarray(prices, dtype="float64"),
            "currency": "USD",
            "available": rng.random(n_items) > 0.05,
            "listed_date": [today - timedelta(days=int(d)) for d in age_days],
        }
    )
    return frame
