"""Optional LLM entity extraction, grounded in the source text.

kgrec extracts brands and attributes with spaCy and rules by default. An LLM can be added as
one more extractor; whatever it answers is kept only where the item's or review's own text
holds it (exact match ignoring case and punctuation, else a fuzzy match of 90+), so an LLM can
add recall but never invent a brand or attribute. Answers are cached on disk under
``$KGREC_CACHE_DIR/llm`` keyed by the text, the model and the prompt version, so re-running
ingestion asks the model nothing new.

Pick a backend with environment variables (or ``.env``):

``KGREC_LLM_BACKEND``
    ``none`` (default), ``openai`` or ``transformers``.
``KGREC_LLM_URL``, ``KGREC_LLM_MODEL``, ``KGREC_LLM_API_KEY``
    ``openai``: any server with an OpenAI-compatible ``/chat/completions`` API; the URL is
    the base that ends in ``/v1``; the key only where the server wants one.
``KGREC_LLM_MODEL_PATH``
    ``transformers``: a local model directory (config, weights, tokenizer with a chat
    template) or one ``.gguf`` file (that needs ``pip install gguf accelerate``); runs on CPU
    in the kgrec process.
``KGREC_LLM_TIMEOUT_S`` (60), ``KGREC_LLM_MAX_RETRIES`` (2)
    Per-request timeout; how often an answer that is not valid JSON for the schema is asked
    again (with the error) before that input is skipped with a warning.

Examples::

    # Ollama (ollama pull qwen2.5:7b-instruct)
    KGREC_LLM_BACKEND=openai KGREC_LLM_URL=http://127.0.0.1:11434/v1 \\
        KGREC_LLM_MODEL=qwen2.5:7b-instruct
    # vLLM (vllm serve Qwen/Qwen2.5-7B-Instruct)
    KGREC_LLM_BACKEND=openai KGREC_LLM_URL=http://127.0.0.1:8000/v1 \\
        KGREC_LLM_MODEL=Qwen/Qwen2.5-7B-Instruct
    # llama.cpp (llama-server -m model.gguf --port 8080); the model name is not checked
    KGREC_LLM_BACKEND=openai KGREC_LLM_URL=http://127.0.0.1:8080/v1 KGREC_LLM_MODEL=local
    # OpenAI
    KGREC_LLM_BACKEND=openai KGREC_LLM_URL=https://api.openai.com/v1 \\
        KGREC_LLM_MODEL=gpt-4o-mini KGREC_LLM_API_KEY=sk-...
    # A local transformers model directory, or a GGUF file
    KGREC_LLM_BACKEND=transformers KGREC_LLM_MODEL_PATH=/models/Qwen2.5-1.5B-Instruct

Requests use temperature 0, so answers (and the cache) are deterministic. Instruction-tuned
models of a few billion parameters give useful results; the tiny SmolLM2-135M that the tests
use exercises the code path but mostly copies its example or invents values, which grounding
then drops.
"""

from .backends import ChatBackend, LLMError, OpenAICompatibleBackend, TransformersBackend
from .extractor import LLMExtractor, LLMStats, build_llm_extractor

__all__ = [
    "ChatBackend",
    "LLMError",
    "LLMExtractor",
    "LLMStats",
    "OpenAICompatibleBackend",
    "TransformersBackend",
    "build_llm_extractor",
]
