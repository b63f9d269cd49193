"""Aftercare: SMS and email aftercare messaging for cosmetic and aesthetic clinics."""

__version__ = "0.1.0"
