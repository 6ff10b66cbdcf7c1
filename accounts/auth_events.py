"""Audit events for what allauth and django.contrib.auth do (login, MFA, password...).

These are the libraries' own integration points; our domain flow does not use signals.
"""
