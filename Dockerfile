# The kgrec image: the package and its models (all from PyPI). Neo4j runs in its own container.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY kg kg
COPY gnn gnn
COPY api api
COPY ingest ingest
COPY cypher cypher
COPY data data
RUN pip install --no-cache-dir -e .
ENV HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
EXPOSE 8000
