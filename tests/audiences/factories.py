import itertools

from audiences.models import Contact

_ids = itertools.count(1)


def line_id(prefix: str = "U") -> str:
    return f"{prefix}{next(_ids):032x}"


def contact(**fields) -> Contact:
    fields.setdefault("line_id", line_id())
    return Contact.objects.create(**fields)
