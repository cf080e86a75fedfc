"""Template spam: documents from a few fill-in-the-slot templates (products, prices, urls),
near-duplicates of each other by design, with the template id as the exact cluster.

>>> texts, cluster = template_spam(4, 0)
>>> len(texts), cluster.dtype.name
(4, 'int64')
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tailguard.data.seeded import as_generator, read_only, text_list
from tailguard.errors import ParameterError
from tailguard.validation import Int, validate_params

SPAM_TEMPLATES = (
    "Limited offer! Get the {product} today for only {price} instead of {old_price}. "
    "Order now at {url} and save {percent}% before the deal ends tonight.",
    "Are you still paying too much? Thousands of customers in {city} switched to {product} this week. "
    "Visit {url} to claim your {percent}% discount, only {count} left in stock!",
    "BEST PRICE GUARANTEED: {product} now {price}. Free shipping to {city}, no questions asked. "
    "Click {url} and use code {code} at checkout.",
    "Congratulations {name}! You have been selected to receive a free {product} worth {old_price}. "
    "Confirm your details at {url} within {hours} hours to claim your reward.",
    "Doctors hate this trick: {name} from {city} lost weight with {product} in just {count} days. "
    "Read the full story at {url} and get a trial for {price}.",
    "Make {price} a day working from home! {name} from {city} earns {old_price} a week with {product}. "
    "Sign up today at {url}, only {count} places left.",
    "Your account needs attention. Your {product} subscription expires in {hours} hours. "
    "Renew now at {url} for {price} and keep your {percent}% loyalty discount.",
    "Top rated {product} of the year, rated 5 stars by {count} buyers in {city}. "
    "Now {percent}% off at {url}, today only {price}.",
    "Hot deal alert: the new {product} is back in stock for {price}. "
    "Hurry, {count} people in {city} are viewing this offer right now. Buy at {url}.",
    "Dear {name}, we are pleased to offer you a {product} upgrade for {price} per month. "
    "Reply within {hours} hours or visit {url} and enter code {code}.",
)
"""The built-in templates of :func:`template_spam`; the index is the cluster id."""

_PRODUCTS = (
    "SmartWatch Pro", "UltraBlend 3000", "Keto Slim Pills", "Solar Power Bank", "Wireless Earbuds X",
    "Memory Foam Pillow", "Crypto Trading Bot", "Anti-Aging Serum", "LED Grow Light", "Robot Vacuum S7",
    "Noise Cancelling Headset", "Air Fryer Deluxe", "Posture Corrector", "Hair Growth Oil", "VPN Premium",
    "Electric Scooter Z", "Massage Gun Max", "Water Purifier Plus", "Gaming Chair Elite", "Portable Projector",
    "Mini Drone 4K", "Fitness Tracker Band", "Teeth Whitening Kit", "Cloud Backup Plan", "Security Camera Duo",
)  # fmt: skip
_CITIES = (
    "London", "Houston", "Berlin", "Toronto", "Sydney", "Chicago", "Madrid", "Dublin", "Phoenix", "Denver",
    "Lyon", "Austin", "Glasgow", "Miami", "Seattle", "Boston", "Leeds", "Perth", "Ottawa", "Atlanta",
)  # fmt: skip
_NAMES = (
    "John", "Maria", "David", "Sarah", "Michael", "Linda", "James", "Emma", "Robert", "Olivia",
    "William", "Sophia", "Daniel", "Mia", "Thomas", "Grace", "Peter", "Chloe", "Mark", "Anna",
)  # fmt: skip
_DOMAINS = ("best-deals", "shop-now", "mega-sale", "top-offers", "buy-direct", "secure-claim", "promo-hub", "save-big")
_TLDS = (".com", ".net", ".shop", ".info", ".biz", ".co")


def template_spam(
    n: int, rng: np.random.Generator | int, *, templates: Sequence[str] = SPAM_TEMPLATES
) -> tuple[list[str], np.ndarray]:
    """``n`` spam documents and the template (cluster) id of each, drawn uniformly.

    The slots ``{product} {price} {old_price} {percent} {url} {city} {count} {name}
    {hours} {code}`` are filled at random, so documents of one template differ only in
    their fillers: near-duplicates, with ``cluster`` the exact ground truth. Pass your own
    ``templates`` (format strings with any of those slots) to change them.

    >>> texts, cluster = template_spam(2, 0, templates=["Buy {product} for {price} at {url}"])
    >>> for text in texts:
    ...     print(text)
    Buy Posture Corrector for $171.60 at https://www.mega-sale.biz/item/45473
    Buy Crypto Trading Bot for $131.01 at https://www.promo-hub.com/item/87165
    >>> cluster.tolist()
    [0, 0]
    """
    validate_params("template_spam", {"n": n}, {"n": Int(min=0)})
    templates = text_list("templates", templates)
    if not templates:
        raise ParameterError("templates: need at least one template")
    rng = as_generator(rng)
    cluster = rng.integers(len(templates), size=n)
    price = rng.integers(999, 19_999, size=n) / 100
    fill = {
        "product": np.array(_PRODUCTS)[rng.integers(len(_PRODUCTS), size=n)].tolist(),
        "price": [f"${p:.2f}" for p in price],
        "old_price": [f"${p:.2f}" for p in price * rng.uniform(1.5, 4.0, size=n)],
        "percent": rng.integers(10, 91, size=n).tolist(),
        "city": np.array(_CITIES)[rng.integers(len(_CITIES), size=n)].tolist(),
        "name": np.array(_NAMES)[rng.integers(len(_NAMES), size=n)].tolist(),
        "count": rng.integers(2, 500, size=n).tolist(),
        "hours": rng.integers(2, 73, size=n).tolist(),
        "code": [f"SAVE{c:04d}" for c in rng.integers(0, 10_000, size=n)],
        "url": [
            f"https://www.{_DOMAINS[d]}{_TLDS[t]}/item/{i}"
            for d, t, i in zip(
                rng.integers(len(_DOMAINS), size=n),
                rng.integers(len(_TLDS), size=n),
                rng.integers(10_000, 99_999, size=n),
                strict=True,
            )
        ],
    }
    keys = list(fill)
    columns = [fill[k] for k in keys]
    texts = []
    for i, c in enumerate(cluster.tolist()):
        try:
            texts.append(templates[c].format_map({k: col[i] for k, col in zip(keys, columns, strict=True)}))
        except (KeyError, IndexError, ValueError) as err:
            raise ParameterError(f"templates[{c}]: not a format string with the known slots ({err})") from None
    return texts, read_only(cluster.astype(np.int64))
