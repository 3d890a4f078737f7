"""Refuse what the app never needs, before anything is read or stored: files and large bodies."""

from django.conf import settings
from django.core.exceptions import SuspiciousMultipartForm
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpResponse


class RequestBodyLimitMiddleware:
    """A body whose declared length is over DATA_UPLOAD_MAX_MEMORY_SIZE gets a 413, unread.
    Django's own limit still guards bodies that do not declare their length."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0  # Django treats it as no body.
        if declared > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            response = HttpResponse(
                f"The request is too large: this app takes at most {limit} bytes.\n",
                status=413,
                content_type="text/plain; charset=utf-8",
            )
            # The body was not read: the connection cannot carry another request after it. gunicorn
            # closes it when told so; a WSGI application may not set a hop-by-hop header, and
            # Django's development server (wsgiref) refuses the response with a 500 if it does.
            if request.META.get("SERVER_SOFTWARE", "").startswith("gunicorn"):
                response["Connection"] = "close"
            return response
        return self.get_response(request)


class FileUploadRefused(SuspiciousMultipartForm):
    """A form carried a file; no form of this app takes one."""


class RefuseFileUploads(FileUploadHandler):
    """The only upload handler (FILE_UPLOAD_HANDLERS): called when a file part begins,
    before a byte of it is kept in memory or spooled to disk. Django answers with a 400."""

    def new_file(self, *args, **kwargs):
        raise FileUploadRefused("File uploads are not accepted")

    def receive_data_chunk(self, raw_data, start):  # never reached: new_file refused
        return None

    def file_complete(self, file_size):
        return None
