"""Identity: chip ID cards, e-ID accounts, the OpenID Connect provider and digital signatures.

Sub-packages: ``pki`` (country CA, keystores), ``cards``, ``eid``, ``oidc``, ``signing``.
Persons are read only through ``dancu.registry.services``.
"""
