"""Signals audiences sends and the apps above connect to in `AppConfig.ready()`
(docs/design.md §5.3). Audiences imports none of them. Sent with `sender=Contact`.
"""

from django.dispatch import Signal

# Inside `_contact_merge`'s transaction, before the anonymous contact is deleted: a receiver
# moves its own rows of `anonymous` over to `primary`.
contact_merging = Signal()

# The contact's page: a receiver returns a dict merged into the page's context (campaigns:
# `deliveries`, the campaigns the contact received).
contact_detail_context = Signal()
