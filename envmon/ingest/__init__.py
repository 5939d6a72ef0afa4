"""Where a reading enters: MQTT messages → readings in contract units.

- ``mqtt``: ``MqttSource``, the persistent-session subscriber with manual acks (I/O);
  ``mqtt_client`` picks and sets up its paho client (``[mqtt] reader``), and
  ``_paho_fast`` with ``_mqtt_frames`` is the buffered reader.
- ``ingestor``: ``Ingestor.handle``, the pure entry point (topic + payload → Reading,
  RoomStateChange, Reject or None).
- ``topics``, ``decoders``, ``values``, ``lineproto``, ``units``: topic patterns,
  payload decoding, value checks and unit conversion used by the ingestor.
- ``rejects``: counting, rate-limited logging and the ``.../envmon/rejected`` payload.
- ``config``: the ``[mqtt]`` and ``[ingest]`` settings sections.
"""
