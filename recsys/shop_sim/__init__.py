"""The simulated shop: the platform's built-in, deterministic source of catalog and events.

Everything is a function of (seed, scale, date): any day can be generated, regenerated or
backfilled on its own, in any order, with no state kept between days.
"""

from __future__ import annotations

from recsys.shop_sim.catalog import catalog_on
from recsys.shop_sim.events import simulate_events
from recsys.shop_sim.export import ExportSummary, write_export
from recsys.shop_sim.users import users_on

__all__ = ["ExportSummary", "catalog_on", "simulate_events", "users_on", "write_export"]
