"""The dancu public-key infrastructure: keystore, country CA, certificate profiles, revocation."""
