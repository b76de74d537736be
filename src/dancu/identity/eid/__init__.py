"""Citizen e-ID accounts (VNeID-like): level 1 online, level 2 proofed in person, MFA, sessions, dependents.

Citizens are not staff: their accounts, sessions and logins live here, apart
from ``dancu.accounts`` (registrars, auditors), and reach the population
database only through ``dancu.registry`` service functions.
"""
