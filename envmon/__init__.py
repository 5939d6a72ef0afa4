"""envmon: GMP cleanroom environmental monitoring.

Data flow, by folder: ``ingest`` (MQTT in) -> ``alarms`` (judged against limits)
-> ``store`` (InfluxDB, spool, journal) and ``notify`` (alarm topics, webhook,
email); ``report`` builds QA excursion reports from the journal and InfluxDB.
"""

__version__ = "0.1.0"
