import os
import shutil
import tempfile
from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linecampaigns.settings")


def _chunked_body_limit() -> int:
    return max(
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0, settings.CONTACT_IMPORT_MAX_MB * 1024 * 1024
    )


def read_chunked_bodies(app: Callable) -> Callable:
    """A request body sent with `Transfer-Encoding: chunked` has no Content-Length, and Django's
    WSGI request reads such a body as empty (a webhook would be taken for an unsigned empty
    delivery). Servers that de-chunk the body say so with `wsgi.input_terminated` (gunicorn
    does): read it to its end here and give the request a Content-Length like any other."""

    def application(environ: dict, start_response: Callable) -> Iterable[bytes]:
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if not chunked or environ.get("CONTENT_LENGTH") or not environ.get("wsgi.input_terminated"):
            return app(environ, start_response)
        limit = _chunked_body_limit()
        # Not a `with`: the file is the request's stream until the response is done.
        body = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE)  # noqa: SIM115
        shutil.copyfileobj(LimitedStream(environ["wsgi.input"], limit + 1), body)
        if body.tell() > limit:
            body.close()
            start_response("413 Request Entity Too Large", [("Content-Type", "text/plain")])
            return [f"The body is larger than {limit:,} bytes.".encode()]
        environ["CONTENT_LENGTH"] = str(body.tell())
        body.seek(0)
        environ["wsgi.input"] = body
        return app(environ, start_response)

    return application


application = read_chunked_bodies(get_wsgi_application())
