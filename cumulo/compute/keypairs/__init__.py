"""Keypairs: the SSH public keys (or x509 certificates) a user injects into servers."""
