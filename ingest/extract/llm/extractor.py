"""`LLMExtractor`: the `EntityExtractor` that asks a chat model, then keeps only what the
source text holds."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from ingest.extract.base import BRAND, ItemText, Mention, ReviewText
from ingest.extract.fields import item_fields
from kg.records import Sentiment, SourceField
from kg.settings import Settings

from .backends import ChatBackend, OpenAICompatibleBackend, TransformersBackend
from .cache import AnswerCache
from .grounding import locate
from .prompts import (
    ITEM_TASK,
    PROMPT_VERSION,
    REVIEW_TASK,
    A,
    AnswerError,
    Task,
    render_fields,
    retry_message,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

# Enough for a dozen attributes; an answer cut off here is invalid JSON and is retried.
MAX_TOKENS = 256


@dataclass
class LLMStats:
    """Counts for the end-of-run summary."""

    calls: int = 0  # model calls, retries included
    cached: int = 0  # inputs answered from the cache
    failed: int = 0  # inputs with no valid answer after every retry
    kept: int = 0  # values found in the source text
    dropped: int = 0  # values not found in the source text (invented or paraphrased)


class LLMExtractor:
    """Asks `backend` for each input's brand/attributes (items) or aspects with polarity
    (reviews), caches every answer on disk, and emits only grounded mentions."""

    name = "llm"

    def __init__(self, backend: ChatBackend, cache_dir: Path, max_retries: int = 2) -> None:
        self.backend = backend
        self.cache = AnswerCache(cache_dir / "llm")
        self.max_retries = max_retries
        self.stats = LLMStats()

    def extract_items(self, items: Sequence[ItemText]) -> list[list[Mention]]:
        return [self._item_mentions(item) for item in items]

    def extract_reviews(self, reviews: Sequence[ReviewText]) -> list[list[Mention]]:
        return [self._review_mentions(review) for review in reviews]

    def _item_mentions(self, item: ItemText) -> list[Mention]:
        fields = dict(item_fields(item))
        if not fields:
            return []
        answer = self._ask(ITEM_TASK, render_fields(fields), item.item_id)
        if answer is None:
            return []
        values = [(BRAND, answer.brand, None)] if answer.brand else []
        values += [(attribute.kind, attribute.value, None) for attribute in answer.attributes]
        return self._ground(values, fields)

    def _review_mentions(self, review: ReviewText) -> list[Mention]:
        if not review.text.strip():
            return []
        fields: dict[SourceField, str] = {"review": review.text}
        answer = self._ask(REVIEW_TASK, render_fields(fields), review.review_id)
        if answer is None:
            return []
        values = [(aspect.kind, aspect.value, aspect.polarity) for aspect in answer.aspects]
        return self._ground(values, fields)

    def _ask(self, task: Task[A], text: str, input_id: str) -> A | None:
        """The validated answer, from the cache or the model; None once the retries are spent
        (that outcome is cached too: greedy decoding would fail the same way again)."""
        key = AnswerCache.key(task.name, text, self.backend.name, PROMPT_VERSION)
        record = self.cache.get(key)
        if record is not None:
            self.stats.cached += 1
            return (
                None if record["answer"] is None else task.schema.model_validate(record["answer"])
            )
        messages = task.messages(text)
        answer: A | None = None
        for _ in range(self.max_retries + 1):
            reply = self.backend.complete(messages, MAX_TOKENS)
            self.stats.calls += 1
            try:
                answer = task.parse(reply)
                break
            except AnswerError as exc:
                error = exc
                messages = [*messages, {"role": "assistant", "content": reply}, retry_message(exc)]
        else:
            self.stats.failed += 1
            log.warning(
                "LLM gave no valid answer for %s %s after %d tries (%s); no mentions from it",
                task.name,
                input_id,
                self.max_retries + 1,
                error,
            )
        self.cache.put(key, {"answer": None if answer is None else answer.model_dump(mode="json")})
        return answer

    def _ground(
        self,
        values: Iterable[tuple[str, str, Sentiment | None]],
        fields: dict[SourceField, str],
    ) -> list[Mention]:
        mentions: dict[tuple[str, SourceField, int, int], Mention] = {}
        for kind, value, sentiment in values:
            span = locate(value, fields)
            if span is None:
                self.stats.dropped += 1
                log.debug("dropped %s %r: not in the source text", kind, value)
                continue
            self.stats.kept += 1
            # The model may name one span twice (or once per retry): one mention per span.
            mentions.setdefault(
                (kind, span.source, span.start, span.end),
                Mention(
                    kind=kind,
                    text=fields[span.source][span.start : span.end],
                    source=span.source,
                    extractor="llm",
                    confidence=span.score,
                    start=span.start,
                    end=span.end,
                    sentiment=sentiment,
                ),
            )
        return list(mentions.values())


def _required(value: T | None, env: str, backend: str) -> T:
    if value is None:
        raise ValueError(f"KGREC_LLM_BACKEND={backend} needs {env} to be set")
    return value


def build_llm_extractor(settings: Settings) -> LLMExtractor | None:
    """The LLM extractor the settings ask for; None when KGREC_LLM_BACKEND is "none"."""
    backend: ChatBackend
    if settings.llm_backend == "none":
        return None
    if settings.llm_backend == "openai":
        api_key = settings.llm_api_key
        backend = OpenAICompatibleBackend(
            _required(settings.llm_url, "KGREC_LLM_URL (e.g. http://127.0.0.1:11434/v1)", "openai"),
            _required(settings.llm_model, "KGREC_LLM_MODEL (e.g. qwen2.5:7b-instruct)", "openai"),
            api_key=api_key.get_secret_value() if api_key else None,
            timeout_s=settings.llm_timeout_s,
        )
    else:
        backend = TransformersBackend(
            _required(settings.llm_model_path, "KGREC_LLM_MODEL_PATH", "transformers")
        )
    return LLMExtractor(backend, settings.cache_dir, max_retries=settings.llm_max_retries)
