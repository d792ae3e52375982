"""The product's consents: who consented with which scopes, and a subscription's number.

``ListConsentsForProduct`` names subscriptions (opaque ids), not numbers; ``GetMsisdn``
(scope ``subscription.id:read``) turns one into its number. An operator-wide consent (a
tenant's) names no subscription.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .proto.wgtwo.consents.v0 import consents_pb2

SCOPE_SUBSCRIPTION_ID: Final = "subscription.id:read"
# Consents asked for per page (the operator's maximum is larger; fewer pages, same result).
PAGE_SIZE: Final = 100
# A listing longer than this many pages is cut (a server that never ends its pages).
MAX_PAGES: Final = 1000


@dataclass(frozen=True, slots=True)
class ConsentInfo:
    """One consent of the product.

    ``subscription_id`` and ``subscription_tenant`` identify a subscriber's subscription
    (None for an operator-wide consent, whose ``tenant`` names the operator instead).
    """

    subscription_id: str | None
    subscription_tenant: str
    tenant: str | None
    scopes: frozenset[str]
    product_id: str

    @classmethod
    def from_proto(cls, consent: consents_pb2.Consent) -> ConsentInfo:
        """Read one listed consent."""
        owner = consent.owner
        which = owner.WhichOneof("value")
        ident = owner.subscription.subscription_identifier
        return cls(
            subscription_id=ident.value if which == "subscription" else None,
            subscription_tenant=ident.tenant.name if which == "subscription" else "",
            tenant=(owner.tenant.name or "") if which == "tenant" else None,
            scopes=frozenset(s.property for s in consent.scopes if s.property),
            product_id=consent.product_id,
        )


__all__ = ["MAX_PAGES", "PAGE_SIZE", "SCOPE_SUBSCRIPTION_ID", "ConsentInfo"]
