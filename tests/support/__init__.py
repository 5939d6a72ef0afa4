"""Helpers the tests share: real servers, the service as a process, certificates, waiting."""
