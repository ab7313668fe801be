"""Product tagging: the tag taxonomy, the vectorised rule engine and tag analytics.

Typical use::

    from tagging import TagEngine, load_taxonomy
    tags = TagEngine(load_taxonomy()).tag(catalog)   # item_id, tag, dimension, confidence, rule_id, evidence
"""

from tagging.engine import ITEM_TAGS_SCHEMA, TagEngine
from tagging.errors import CatalogFormatError, TaggingError, TaxonomyError
from tagging.taxonomy import Taxonomy, load_taxonomy

__all__ = [
    "ITEM_TAGS_SCHEMA",
    "CatalogFormatError",
    "TagEngine",
    "TaggingError",
    "Taxonomy",
    "TaxonomyError",
    "load_taxonomy",
]
