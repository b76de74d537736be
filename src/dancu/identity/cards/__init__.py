"""Chip identity cards: applications, biometric capture, mobile teams, production, offline verification."""
