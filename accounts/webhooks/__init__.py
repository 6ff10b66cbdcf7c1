"""Signed outbound webhooks (Standard Webhooks): endpoints, messages and their delivery."""
