"""Request and response bodies of the lookup service (they make its OpenAPI document)."""

from __future__ import annotations

from typing import Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field, field_validator

from feature_store.service.codec import EncodedItems
from feature_store.service.errors import ID_RULE, is_id

Source = Literal["personal", "cold_start", "fallback"]


class Item(BaseModel):
    item_id: str
    score: float
    channel: str = Field(description="Recall channel of a published list, or the segment an item came from.")
    stage: str | None = Field(description="Last ranking stage of a published item; null for segment items.")


class Recommendations(BaseModel):
    request_id: str = Field(description="Send it back with feedback: it says what served this answer.")
    user_id: str
    experiment: str = Field(description="The experiment that chooses the published list.")
    variant: str = Field(description="The user's variant in that experiment.")
    experiments: dict[str, str] = Field(description="The user's variant in every configured experiment.")
    reads: str | None = Field(description="Published variant whose list was read; null if none was.")
    variant_fallback: bool = Field(description="The variant's list was missing, so champion's was read.")
    source: Source
    strategy: str | None = Field(description="Cold start: the bandit's strategy (global, trending, ...).")
    context: str | None
    fallback: bool = Field(description="Answered from the in-process snapshot: Redis was not used.")
    fallback_reason: str | None = Field(description="breaker_open, redis_error, unpublished, bad_value.")
    version: int = Field(description="The recommendation version (rec:v<N>) that answered.")
    items: list[Item]


class ItemDict(TypedDict):
    """An ``Item`` as the hot path builds it (codec.py encodes it): the same fields, no model."""

    item_id: str
    score: float
    channel: str
    stage: str | None


class RecommendationsDict(TypedDict):
    """A ``Recommendations`` answer as a dict, its fields in the model's order (so in its JSON's)."""

    request_id: str
    user_id: str
    experiment: str
    variant: str
    experiments: dict[str, str]
    reads: str | None
    variant_fallback: bool
    source: Source
    strategy: str | None
    context: str | None
    fallback: bool
    fallback_reason: str | None
    version: int
    items: list[ItemDict] | EncodedItems  # EncodedItems: a published list's, already JSON


class Similar(BaseModel):
    request_id: str
    item_id: str
    version: int
    fallback: bool = Field(description="Redis was away: popular items stand in for similar ones.")
    fallback_reason: str | None
    items: list[Item]


class SimilarDict(TypedDict):
    """A ``Similar`` answer as a dict, its fields in the model's order."""

    request_id: str
    item_id: str
    version: int
    fallback: bool
    fallback_reason: str | None
    items: list[ItemDict]


class FeedbackIn(BaseModel):
    """One event on an answer: an impression of the list, or a click, cart or purchase of an item."""

    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(description="The request_id of the answer the event is about.")
    event: Literal["impression", "click", "cart", "purchase"]
    user_id: str
    item_id: str | None = Field(default=None, description="Required for click, cart and purchase.")

    @field_validator("user_id", "item_id")
    @classmethod
    def _id(cls, value: str | None) -> str | None:
        if value is not None and not is_id(value):
            raise ValueError(ID_RULE)
        return value


class FeedbackOut(BaseModel):
    accepted: bool
    queued: bool = Field(description="Redis was away: the event waits in this worker and goes out later.")
    stream_id: str | None = Field(description="The entry's id in the feedback:events stream.")
    experiment: str
    variant: str


class Problem(BaseModel):
    field: str
    location: str = Field(description="path, query or body")
    problem: str
    value: str | int | float | bool | None = None


class ErrorBody(BaseModel):
    error: str = Field(description="invalid_request, unknown_item, not_found, unavailable")
    message: str
    problems: list[Problem] = []


class Health(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    ready: bool
    version: int | None
    breaker: str
    reason: str | None = None
