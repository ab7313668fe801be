"""The Airflow Assets the DAGs announce and listen to, defined once.

An event's ``extra`` names the day it is about (``{"dt": "YYYY-MM-DD", ...}``), which is how an
asset-triggered run (recsys_publish) finds its partition.
"""

from __future__ import annotations

from airflow.sdk import Asset

FEATURES = Asset(name="features", uri="recsys://lake/features")  # recsys_ingest, after the gate
COARSE_RANKER = Asset(name="coarse_ranker", uri="recsys://models/coarse_ranker")  # recsys_retrain
RECALL_MODEL = Asset(name="recall", uri="recsys://models/recall")
FINE_RANKER = Asset(name="fine_ranker", uri="recsys://models/fine_ranker")
RECOMMENDATIONS = Asset(name="recommendations", uri="recsys://serving/recommendations")  # recsys_publish
