"""What the processors' tests share."""

from __future__ import annotations

from privacy.processors.services import processor_create


def register_processor(
    *,
    name: str = "Gateway logs",
    url: str = "https://processor.example.com/hooks",
    kinds=("erasure", "access", "opt_out", "restriction", "consent_withdrawal"),
    identifiers=("account_id", "api_key_ids"),
    actor=None,
):
    """Register a processor through the service; return (processor, secret, token)."""
    return processor_create(
        name=name,
        purpose=f"{name}: holds request logs",
        url=url,
        request_kinds=list(kinds),
        identifiers=list(identifiers),
        actor=actor,
    )
