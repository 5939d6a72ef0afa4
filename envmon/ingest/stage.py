"""The ingest stage as one component: the MQTT source and the router it feeds.

Stopping only stops handing messages on: the connection stays up so that the
acknowledgements of what was taken still go out while the alarm worker and
the store finish. Closing disconnects; the broker keeps the session and
redelivers whatever was not acknowledged.
"""

from __future__ import annotations

from envmon.ingest.mqtt import MqttSource
from envmon.ingest.router import Router
from envmon.runtime.lifecycle import Deadline


class IngestStage:
    name = "ingest"

    def __init__(self, source: MqttSource, router: Router) -> None:
        self.source = source
        self.router = router

    @property
    def connected(self) -> bool:
        return self.source.connected

    def validate(self) -> None:
        pass

    def start(self) -> None:
        self.source.start()

    def stop(self, deadline: Deadline) -> None:
        self.router.stop_accepting()

    def close(self) -> None:
        self.source.stop()
