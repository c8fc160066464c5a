"""The FastAPI service: routes, schemas and explanation rendering (issue: the API)."""
