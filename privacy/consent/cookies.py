"""Cookie consent plumbing shared by the banner, the pages and the API: cookie names,
the consent cookie's format, the IP hash and the cookies each category may set."""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass, field

from django.conf import settings

from privacy.consent.models import OPTIONAL_CATEGORIES

# Strictly necessary cookies of our own: a random visitor id (the key of the consent
# proof) and the visitor's current choice, which consent.js reads to open the gate.
VISITOR_COOKIE = "console_visitor"
CONSENT_COOKIE = "console_consent"

# Change this whenever the banner's wording changes: each record names the text shown,
# and a choice made on other wording asks again (as a new cookie policy version does).
# Letters, digits and hyphens only: it is part of the consent cookie.
BANNER_TEXT_VERSION = "2025-01-a"

# The cookies each optional category may set. Withdrawing a category deletes them here
# and in consent.js (which reads this map from the banner's data attribute).
CATEGORY_COOKIES: dict[str, tuple[str, ...]] = {
    "preferences": ("console_prefs",),
    "analytics": ("_console_analytics",),
    "marketing": ("_console_marketing",),
}

# Global Privacy Control asks us not to sell or share: these categories stay off.
GPC_BLOCKED = ("analytics", "marketing")


@dataclass(frozen=True)
class Choice:
    """The optional categories a visitor allowed, against one cookie policy version and
    one banner wording."""

    version_id: int | None
    preferences: bool = False
    analytics: bool = False
    marketing: bool = False
    banner_version: str = ""

    def allowed(self) -> list[str]:
        return [c.value for c in OPTIONAL_CATEGORIES if getattr(self, c.value)]


@dataclass
class ConsentState:
    """What the banner and the gate need to know about the current visitor."""

    visitor_id: uuid.UUID | None
    policy_version_id: int | None
    policy_version_label: str
    choice: Choice | None
    gpc: bool
    category_cookies: dict = field(default_factory=lambda: dict(CATEGORY_COOKIES))

    @property
    def banner_version(self) -> str:
        return BANNER_TEXT_VERSION

    @property
    def needs_consent(self) -> bool:
        return (
            self.choice is None
            or self.choice.version_id != self.policy_version_id
            or self.choice.banner_version != BANNER_TEXT_VERSION
        )

    @property
    def current_choice(self) -> Choice | None:
        return None if self.needs_consent else self.choice


def parse_visitor_id(value) -> uuid.UUID | None:
    """Return the visitor id if `value` is a well-formed UUID, else None."""
    if not value or not isinstance(value, str | uuid.UUID) or len(str(value)) > 64:
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def format_choice(choice: Choice) -> str:
    """Serialise a choice for the consent cookie: `<version id>.<p><a><m>.<banner version>`
    with the categories as 0/1 flags."""
    flags = "".join("1" if getattr(choice, c.value) else "0" for c in OPTIONAL_CATEGORIES)
    return f"{choice.version_id or 0}.{flags}.{choice.banner_version}"


def parse_choice(value: str | None) -> Choice | None:
    """Read the consent cookie; anything malformed counts as no choice at all."""
    if not value or len(value) > 64 or "." not in value:
        return None
    version, _, rest = value.partition(".")
    # Cookies set before the banner's version was part of them read as older wording.
    flags, _, banner_version = rest.partition(".")
    if not version.isdigit() or len(flags) != len(OPTIONAL_CATEGORIES) or set(flags) - {"0", "1"}:
        return None
    if not _BANNER_VERSION_SHAPE.fullmatch(banner_version):
        return None
    values = {c.value: flag == "1" for c, flag in zip(OPTIONAL_CATEGORIES, flags, strict=True)}
    return Choice(version_id=int(version) or None, banner_version=banner_version, **values)


_BANNER_VERSION_SHAPE = re.compile(r"[A-Za-z0-9-]{0,32}")


def gpc_requested(request) -> bool:
    return request.headers.get("Sec-GPC", "").strip() == "1"


def ip_hash(ip_address: str | None) -> str:
    """Keyed hash of an IP address, so proof can be matched without keeping the address."""
    if not ip_address:
        return ""
    salt = settings.CONSENT_IP_HASH_SALT or f"consent-ip:{settings.SECRET_KEY}"
    return hmac.new(salt.encode(), ip_address.encode(), hashlib.sha256).hexdigest()


def cookie_max_age() -> int:
    return settings.CONSENT_COOKIE_MAX_AGE_DAYS * 24 * 3600


def set_consent_cookies(response, request, *, visitor_id: uuid.UUID, choice: Choice | None):
    """Store the visitor id and (when given) the choice; delete withdrawn categories' cookies."""
    secure = request.is_secure()
    response.set_cookie(
        VISITOR_COOKIE,
        str(visitor_id),
        max_age=cookie_max_age(),
        httponly=True,
        samesite="Lax",
        secure=secure,
    )
    if choice is None:
        return response
    response.set_cookie(
        CONSENT_COOKIE,
        format_choice(choice),
        max_age=cookie_max_age(),
        # consent.js reads this to decide which scripts may load.
        httponly=False,
        samesite="Lax",
        secure=secure,
    )
    for category, names in CATEGORY_COOKIES.items():
        if not getattr(choice, category):
            for name in names:
                if name in request.COOKIES:
                    response.delete_cookie(name, samesite="Lax")
    return response
