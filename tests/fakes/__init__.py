"""Loopback fakes of outside services, served for real over HTTP on 127.0.0.1."""
