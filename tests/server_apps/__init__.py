"""Apps imported by the real servers started in ``tests/test_servers.py``."""
