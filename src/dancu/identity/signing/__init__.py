"""Digital signatures: the state's PAdES seal, citizens' signing certificates, verification."""
