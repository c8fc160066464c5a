"""What the LLM is asked and what it must answer: pydantic answer schemas, few-shot chat
prompts, and a tolerant parser that turns a reply into a validated answer or an error message
that can be fed back to the model."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ingest.extract.base import ATTRIBUTE_KINDS
from kg.records import Sentiment, SourceField

from .backends import Messages

# Part of the cache key: bump it whenever a prompt, an example or a schema changes.
PROMPT_VERSION = "1"
# Long descriptions are cut in the prompt (grounding still searches the whole field): small
# models lose the instructions in long contexts, and CPU prompt processing grows with length.
MAX_FIELD_CHARS = 2000

_KINDS = ", ".join(ATTRIBUTE_KINDS)
_FIELD_LABELS: dict[SourceField, str] = {
    "title": "Title",
    "description": "Description",
    "features": "Features",
    "details": "Details",
    "review": "Review",
}


class Answer(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)


class AttributeAnswer(Answer):
    kind: str = "feature"  # the catch-all kind when the model leaves it out
    value: str = Field(min_length=1)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        if kind.lower() not in ATTRIBUTE_KINDS:
            raise ValueError(f"kind must be one of: {_KINDS}")
        return kind.lower()


class AspectAnswer(AttributeAnswer):
    polarity: Sentiment


class ItemAnswer(Answer):
    brand: str | None = None
    attributes: list[AttributeAnswer] = Field(default_factory=list)


class ReviewAnswer(Answer):
    aspects: list[AspectAnswer] = Field(default_factory=list)


A = TypeVar("A", bound=Answer)


class AnswerError(ValueError):
    """A reply that is not the JSON object the schema asks for; the message is sent back to
    the model on a retry."""


@dataclass(frozen=True)
class Task(Generic[A]):
    """One kind of question: instructions, one worked example (small models follow a shown
    answer far better than a described one), and the schema the answer must match."""

    name: str
    instructions: str
    example_input: str
    example_answer: A
    schema: type[A]

    def messages(self, text: str) -> Messages:
        return [
            {"role": "system", "content": self.instructions},
            {"role": "user", "content": self.example_input},
            {"role": "assistant", "content": self.example_answer.model_dump_json()},
            {"role": "user", "content": text},
        ]

    def parse(self, reply: str) -> A:
        """The first JSON object in `reply` (code fences and leading text are skipped),
        validated against the schema."""
        start = reply.find("{")
        if start < 0:
            raise AnswerError("the answer holds no JSON object")
        try:
            data, _ = json.JSONDecoder().raw_decode(reply, start)
        except json.JSONDecodeError as exc:
            raise AnswerError(f"invalid JSON: {exc}") from exc
        try:
            return self.schema.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, error['loc'])) or 'answer'}: {error['msg']}"
                for error in exc.errors()
            )
            raise AnswerError(f"the JSON does not match the schema: {problems}") from exc


def retry_message(error: AnswerError) -> dict[str, str]:
    return {
        "role": "user",
        "content": f"That answer is not valid: {error}. Answer again with only the JSON object.",
    }


def render_fields(fields: Mapping[SourceField, str]) -> str:
    return "\n".join(
        f"{_FIELD_LABELS[source]}: {text[:MAX_FIELD_CHARS]}" for source, text in fields.items()
    )


ITEM_TASK = Task(
    name="item",
    instructions=(
        "You extract the brand and the product attributes from product text as JSON.\n"
        'Schema: {"brand": string or null, "attributes": [{"kind": string, "value": string}]}\n'
        f"kind is one of: {_KINDS}.\n"
        "Copy every value exactly as it is written in the text; leave out what is not there. "
        "Answer with the JSON object only."
    ),
    example_input="Title: Acme Cotton T-Shirt, Blue, Large",
    example_answer=ItemAnswer(
        brand="Acme",
        attributes=[
            AttributeAnswer(kind="material", value="Cotton"),
            AttributeAnswer(kind="colour", value="Blue"),
            AttributeAnswer(kind="size", value="Large"),
        ],
    ),
    schema=ItemAnswer,
)

REVIEW_TASK = Task(
    name="review",
    instructions=(
        "You extract the product aspects a review talks about, with the reviewer's opinion of "
        "each, as JSON.\n"
        'Schema: {"aspects": [{"kind": string, "value": string, '
        '"polarity": "positive" | "negative" | "neutral"}]}\n'
        f"kind is one of: {_KINDS}.\n"
        "Copy every value exactly as it is written in the review. "
        "Answer with the JSON object only."
    ),
    example_input="Review: Great battery life, but the screen scratches easily.",
    example_answer=ReviewAnswer(
        aspects=[
            AspectAnswer(kind="feature", value="battery life", polarity="positive"),
            AspectAnswer(kind="feature", value="screen", polarity="negative"),
        ]
    ),
    schema=ReviewAnswer,
)
