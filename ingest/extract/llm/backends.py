"""Chat backends: one call, a list of chat messages in, the model's text out, greedy decoding."""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path
from typing import Protocol

import httpx

Messages = list[dict[str, str]]

GGUF_PACKAGES = ("gguf", "accelerate")


class LLMError(RuntimeError):
    """The backend cannot answer at all (unreachable, HTTP error, no usable model). Unlike a bad
    answer, this is not retried: every further input would fail the same way."""


class ChatBackend(Protocol):
    """What `LLMExtractor` needs from a model. Answers must be deterministic (temperature 0)."""

    name: str  # the model's identity; part of the cache key

    def complete(self, messages: Messages, max_tokens: int) -> str: ...


class OpenAICompatibleBackend:
    """Any server with an OpenAI-style `POST {base_url}/chat/completions`: Ollama, vLLM,
    llama.cpp's server, `transformers serve`, OpenAI itself."""

    def __init__(
        self, base_url: str, model: str, api_key: str | None = None, timeout_s: float = 60.0
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.name = f"openai:{model}"
        self.timeout_s = timeout_s
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def complete(self, messages: Messages, max_tokens: int) -> str:
        payload = {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": 0,
        }
        try:
            response = httpx.post(
                self.url, json=payload, headers=self._headers, timeout=self.timeout_s
            )
        except httpx.ConnectError as exc:
            raise LLMError(
                f"cannot connect to the LLM endpoint {self.url} ({exc}); is the server running? "
                "Check KGREC_LLM_URL."
            ) from exc
        except httpx.TimeoutException as exc:
            raise LLMError(
                f"{self.url} did not answer within {self.timeout_s:g} s; "
                "raise KGREC_LLM_TIMEOUT_S for slow models."
            ) from exc
        except httpx.HTTPError as exc:
            raise LLMError(f"request to {self.url} failed: {exc}") from exc
        if response.is_error:
            raise LLMError(
                f"{self.url} answered HTTP {response.status_code}: {response.text[:500]}"
            )
        try:
            content = response.json()["choices"][0]["message"]["content"]
        except (ValueError, LookupError, TypeError) as exc:
            raise LLMError(f"{self.url} sent no chat completion: {response.text[:500]}") from exc
        if not isinstance(content, str):
            raise LLMError(f"{self.url} sent a completion without text: {response.text[:500]}")
        return content


class TransformersBackend:
    """A local model on CPU: a transformers model directory, or a single .gguf file (its
    tokenizer and chat template are read from the file)."""

    def __init__(self, model_path: Path | str) -> None:
        path = Path(model_path).expanduser().resolve()
        if not path.exists():
            raise LLMError(
                f"no model at {path}; set KGREC_LLM_MODEL_PATH to a transformers model "
                "directory or a .gguf file"
            )
        if path.suffix == ".gguf":
            # transformers reads GGUF only with both installed, and says so only mid-load.
            missing = [package for package in GGUF_PACKAGES if find_spec(package) is None]
            if missing:
                raise LLMError(f"loading {path.name} needs: pip install {' '.join(missing)}")
            directory, gguf = path.parent, {"gguf_file": path.name}
        else:
            directory, gguf = path, {}
        # Imported here: transformers takes seconds to import and only this backend needs it.
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.name = f"transformers:{path}"
        self._tokenizer = AutoTokenizer.from_pretrained(directory, **gguf)
        if not self._tokenizer.chat_template:
            raise LLMError(f"{path} has no chat template; use an instruction-tuned model")
        self._model = AutoModelForCausalLM.from_pretrained(directory, **gguf)  # in eval mode

    def complete(self, messages: Messages, max_tokens: int) -> str:
        prompt = self._tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=False
        )
        # The chat template already holds the special tokens the model expects.
        inputs = self._tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
        # `generate` runs without gradients already; do_sample=False is greedy decoding.
        output = self._model.generate(**inputs, max_new_tokens=max_tokens, do_sample=False)
        prompt_length = inputs["input_ids"].shape[1]
        return str(self._tokenizer.decode(output[0, prompt_length:], skip_special_tokens=True))
