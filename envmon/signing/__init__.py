"""Electronic signatures (21 CFR Part 11, EU GMP Annex 11; design.md section 8).

Every human act that changes an alarm, a sensor's service state or a room
state is signed: a named user re-enters a password, chooses a meaning and
writes a comment. ``rules`` holds the pure rules (roles, password policy,
lockout, ageing, meanings); ``passwords`` the argon2id hashes; ``signer`` the
one path that checks an attempt against the journal and records it, used by
the command line and the web console alike; ``apply`` what the service does
with a signed request. The package imports nothing eagerly: ``envmon.alarms``
uses ``signature`` and the journal uses the alarms.
"""
