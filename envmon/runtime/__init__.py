"""How the service runs: component lifecycle, health and the systemd watchdog, statistics."""
