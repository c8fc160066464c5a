"""kg's own exceptions: the driver's never leave `kg`, so callers depend on these alone."""

from __future__ import annotations


class ProvisionError(RuntimeError):
    """Provisioning failed; the message says what went wrong and what to do next."""


class GraphError(RuntimeError):
    """A Neo4j call failed; the message says why and what to do about it."""


class GraphUnavailableError(GraphError):
    """Neo4j could not be reached (or refused the credentials); the message says how to bring
    it up."""


class GraphTimeoutError(GraphError):
    """A query took longer than its timeout: the server was too slow or stopped answering."""


class GraphQueryError(GraphError):
    """The server refused a query (bad Cypher, a broken constraint, ...): a bug to fix, not an
    outage; running it again gives the same answer."""
