"""How shoppers behave in a session: pages, slates, clicks, views, carts and purchases.

All sessions of the day advance page by page in lockstep, vectorised with numpy. On each
page the user sees a slate and clicks items with a logistic probability made of
persona-item affinity, personal taste, price fit, popularity, position bias, the weekly
focus and relatedness to the last viewed item. A click opens the item page (a view); a
view may add the item to the cart; carts turn into purchases at checkout. What the user
viewed last shapes the next slate and the next clicks, so sequences carry signal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys.shop_sim.choices import (
    Behaviour,
    Shoppers,
    cart_probability,
    click_logit,
    fit,
    intent_items,
    lognormal_ms,
    page_categories,
    sigmoid,
)
from recsys.shop_sim.days import DAY_MS
from recsys.shop_sim.randomness import IntArray
from recsys.shop_sim.slates import Page, ShopIndex, compose_slates

IMPRESSION, CLICK, VIEW, CART, PURCHASE = 0, 1, 2, 3, 4
NO_PLACEMENT = -1
MAX_PAGES = 40
SLATE_DELAY_MS = 300


@dataclass
class EventLog:
    """Events in the order they were made, as growing lists of arrays."""

    columns: dict[str, list[IntArray]]

    @classmethod
    def empty(cls) -> EventLog:
        names = ("session", "item", "kind", "offset_ms", "placement", "position")
        return cls({name: [] for name in names})

    def add(
        self,
        session: IntArray,
        item: IntArray,
        kind: int,
        offset_ms: IntArray,
        placement: IntArray,
        position: IntArray | None = None,
    ) -> None:
        n = len(session)
        if not n:
            return
        values = {
            "session": session,
            "item": item,
            "kind": np.full(n, kind),
            "offset_ms": offset_ms,
            "placement": placement,
            "position": np.full(n, -1) if position is None else position,
        }
        for name, value in values.items():
            self.columns[name].append(np.asarray(value, dtype=np.int64))

    def arrays(self) -> dict[str, IntArray]:
        return {k: np.concatenate(v) if v else np.zeros(0, dtype=np.int64) for k, v in self.columns.items()}


@dataclass
class _Sessions:
    """Mutable state of all sessions while they advance page by page."""

    user: IntArray
    slate_size: IntArray
    alive: np.ndarray
    page: IntArray
    anchor: IntArray  # last viewed item, -1 before the first view
    entry: np.ndarray  # the page starts with a view of ``anchor`` that no click led to
    entry_placement: IntArray
    clock: IntArray  # offset of the current page from the session start (ms)
    end: IntArray  # offset of the session's last event (ms)


def _masked_max(times: IntArray, mask: np.ndarray) -> IntArray:
    return np.asarray(np.where(mask, times, 0).max(axis=1), dtype=np.int64)


class SessionRunner:
    """Advances every session of a day page by page and records their events."""

    def __init__(
        self,
        shoppers: Shoppers,
        index: ShopIndex,
        user: IntArray,
        slate_size: IntArray,
        rng: np.random.Generator,
        behaviour: Behaviour | None = None,
    ) -> None:
        n = len(user)
        self.shoppers, self.index, self.rng = shoppers, index, rng
        self.b = behaviour or Behaviour()
        self.log = EventLog.empty()
        self.s = _Sessions(
            user=user,
            slate_size=slate_size,
            alive=np.ones(n, dtype=bool),
            page=np.zeros(n, dtype=np.int64),
            anchor=np.full(n, -1, dtype=np.int64),
            entry=np.zeros(n, dtype=bool),
            entry_placement=np.full(n, NO_PLACEMENT, dtype=np.int64),
            clock=np.zeros(n, dtype=np.int64),
            end=np.zeros(n, dtype=np.int64),
        )

    def run(self, wished_start: IntArray) -> tuple[dict[str, IntArray], IntArray]:
        """Simulate all sessions; returns the event columns and each session's start (ms after midnight).

        Event times in the columns are offsets from their session's start. A session that
        would run past midnight starts earlier, so every event falls inside the day.
        """
        self._first_pages()
        for step in range(MAX_PAGES):
            idx = np.flatnonzero(self.s.alive)
            if not len(idx):
                break
            self._page(idx, last=step == MAX_PAGES - 1)
        start = self._checkout(wished_start)
        return self.log.arrays(), start

    def _first_pages(self) -> None:
        s, rng = self.s, self.rng
        first = (rng.random(len(s.user))[:, None] > np.cumsum(self.b.start_mix)[None, :]).sum(axis=1)
        s.page[:] = np.where(first >= 3, Page.ITEM, first)
        land = np.flatnonzero(first >= 3)
        category = page_categories(self.shoppers, self.index, s.user[land], s.page[land], s.anchor[land], rng)
        s.anchor[land] = intent_items(self.shoppers, self.index, s.user[land], category, rng)
        s.entry[land] = True

    def _page(self, idx: IntArray, *, last: bool) -> None:
        s, rng, b, log = self.s, self.rng, self.b, self.log
        m = len(idx)
        start, page, anchor, user = s.clock[idx], s.page[idx], s.anchor[idx].copy(), s.user[idx]
        category = page_categories(self.shoppers, self.index, user, page, anchor, rng)
        latest = start + SLATE_DELAY_MS  # a slate's impressions are logged just after the page opens
        carted = np.zeros(m, dtype=bool)
        opened = np.zeros(m, dtype=bool)  # a click led to an item page
        next_anchor = anchor.copy()
        entry = np.flatnonzero(s.entry[idx])
        if len(entry):
            log.add(idx[entry], anchor[entry], VIEW, start[entry], s.entry_placement[idx[entry]])
            parts = fit(self.shoppers, user[entry], anchor[entry])
            hit = entry[rng.random(len(entry)) < cart_probability(b, parts)]
            t_cart = start[hit] + lognormal_ms(rng, 20.0, 0.6, len(hit))
            log.add(idx[hit], anchor[hit], CART, t_cart, np.full(len(hit), Page.ITEM))
            latest[hit] = t_cart
            carted[hit] = True
        shown_on = np.flatnonzero((page != Page.ITEM) | (rng.random(m) < b.related_widget))
        if len(shown_on):
            self._slate(idx, shown_on, start, page, anchor, category, latest, carted, opened, next_anchor)
        viewed = opened | s.entry[idx]
        p_exit = np.where(carted, b.exit_after_cart, np.where(viewed, b.exit_after_view, b.exit_idle))
        leaving = last | (rng.random(m) < p_exit)
        self._navigate(idx, page, category, carted, opened, next_anchor, leaving)
        dwell = np.where(page >= Page.ITEM, lognormal_ms(rng, 40.0, 0.8, m), lognormal_ms(rng, 15.0, 0.7, m))
        s.end[idx] = latest
        s.clock[idx] = np.maximum(start + dwell, latest + rng.integers(500, 3000, m))
        s.alive[idx[leaving]] = False

    def _slate(
        self,
        idx: IntArray,
        on: IntArray,
        start: IntArray,
        page: IntArray,
        anchor: IntArray,
        category: IntArray,
        latest: IntArray,
        carted: np.ndarray,
        opened: np.ndarray,
        next_anchor: IntArray,
    ) -> None:
        """Show a slate on pages ``on`` (positions in ``idx``); record impressions, clicks, views, carts."""
        s, rng, b, log = self.s, self.rng, self.b, self.log
        sessions = idx[on]
        items, shown = compose_slates(
            self.index, page[on], anchor[on], category[on], s.slate_size[sessions], rng
        )
        shape = items.shape
        t_shown = start[on] + SLATE_DELAY_MS
        rows, cols = np.nonzero(shown)
        log.add(sessions[rows], items[rows, cols], IMPRESSION, t_shown[rows], page[on][rows], cols)
        parts = fit(self.shoppers, s.user[sessions][:, None], items)
        logit = click_logit(self.shoppers, self.index, b, page[on], anchor[on], items, parts)
        click = shown & (rng.random(shape) < sigmoid(logit))
        t_click = t_shown[:, None] + lognormal_ms(rng, 5.0, 0.6, shape) + 600 * np.arange(shape[1])[None, :]
        view = click & (rng.random(shape) < b.view_after_click)
        t_view = t_click + rng.integers(300, 1500, shape)
        cart = view & (rng.random(shape) < cart_probability(b, parts))
        t_cart = t_view + lognormal_ms(rng, 20.0, 0.6, shape)
        for kind, mask, times, placement in (
            (CLICK, click, t_click, page[on]),
            (VIEW, view, t_view, page[on]),
            (CART, cart, t_cart, np.full(len(on), Page.ITEM)),
        ):
            r, c = np.nonzero(mask)
            log.add(sessions[r], items[r, c], kind, times[r, c], placement[r], c if kind == CLICK else None)
        latest[on] = np.maximum.reduce(
            [latest[on], _masked_max(t_click, click), _masked_max(t_view, view), _masked_max(t_cart, cart)]
        )
        # The item page the user goes on to: the best liked of the items opened.
        has_view = view.any(axis=1)
        best = np.where(view, logit, -np.inf).argmax(axis=1)
        next_anchor[on[has_view]] = items[has_view, best[has_view]]
        opened[on] |= has_view
        has_cart = cart.any(axis=1)
        last_cart = np.where(cart, t_cart, -1).argmax(axis=1)
        next_anchor[on[has_cart]] = items[has_cart, last_cart[has_cart]]
        carted[on] |= has_cart

    def _navigate(
        self,
        idx: IntArray,
        page: IntArray,
        category: IntArray,
        carted: np.ndarray,
        opened: np.ndarray,
        next_anchor: IntArray,
        leaving: np.ndarray,
    ) -> None:
        """Where each staying session goes next: its cart, an opened item, a search or a listing."""
        s, rng, b = self.s, self.rng, self.b
        nxt = np.where(carted, Page.CART, np.where(opened, Page.ITEM, -1))
        s.entry[idx] = False
        idle = np.flatnonzero((nxt < 0) & ~leaving)
        jump = idle[(page[idle] <= Page.CATEGORY) & (rng.random(len(idle)) < b.search_jump)]
        if len(jump):
            next_anchor[jump] = intent_items(
                self.shoppers, self.index, s.user[idx[jump]], category[jump], rng
            )
            nxt[jump] = Page.ITEM
            s.entry[idx[jump]] = True
            s.entry_placement[idx[jump]] = Page.SEARCH
        browse = np.flatnonzero(nxt < 0)
        cdf = np.cumsum(b.next_listing)
        nxt[browse] = (rng.random(len(browse))[:, None] > cdf[None, :]).sum(axis=1)
        s.page[idx] = nxt
        s.anchor[idx] = next_anchor

    def _checkout(self, wished_start: IntArray) -> IntArray:
        """Carts become purchases at the end of the session; no item is bought twice a day.

        Returns the sessions' start times, fitted so that the checkout is before midnight.
        """
        s, rng, b = self.s, self.rng, self.b
        events = self.log.arrays()
        is_cart = events["kind"] == CART
        session, item = events["session"][is_cart], events["item"][is_cart]
        n_items = len(self.shoppers.category)
        _, first = np.unique(session * n_items + item, return_index=True)
        session, item = session[first], item[first]
        taste, price_fit, _ = fit(self.shoppers, s.user[session], item)
        logit = b.purchase_base + b.purchase_affinity * taste + b.purchase_price * price_fit
        bought = rng.random(len(session)) < sigmoid(logit)
        checkout = s.end + lognormal_ms(rng, 90.0, 0.5, len(s.end))
        start = np.minimum(wished_start, DAY_MS - 1 - checkout)
        session, item = session[bought], item[bought]
        when = checkout[session]
        # Same item in two sessions of one user: only the earlier checkout buys it.
        key = s.user[session] * n_items + item
        order = np.lexsort((start[session] + when, key))
        ordered = key[order]
        keep = order[np.concatenate([[True], ordered[1:] != ordered[:-1]])] if len(order) else order
        self.log.add(session[keep], item[keep], PURCHASE, when[keep], np.full(len(keep), Page.CART))
        return np.asarray(start, dtype=np.int64)
