"""Entity extraction from item text and reviews: spaCy + rules (default) and an optional LLM."""
