"""`kgrec serve`'s HTTP server (uvicorn as `api.cli.server_config` sets it up), over the test
shop."""

from __future__ import annotations

import http.client
import time
from urllib.parse import urlsplit

# Longer than the idle time clients keep a connection for (httpx 5 s) and than uvicorn's own
# default keep-alive (5 s), under which the server closed the connection first.
IDLE_S = 6.0


def test_an_idle_connection_outlives_the_clients_keep_alive(served: str) -> None:
    address = urlsplit(served)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=10)
    try:
        for pause in (0.0, IDLE_S):
            time.sleep(pause)
            # http.client does not reconnect: a connection the server closed fails here.
            connection.request("GET", "/health/live")
            response = connection.getresponse()
            response.read()
            assert response.status == 200
    finally:
        connection.close()
