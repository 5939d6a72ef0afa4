"""The journal: the record of truth for what happened and who did it.

SQLite beside the service's other state: alarms, excursions, room states,
configuration loads and every human act, each an entry of a hash-chained
audit trail (``audit.py``), plus the alarm engine's restart checkpoint.
"""
