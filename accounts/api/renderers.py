"""File downloads (CSV, PDF) next to JSON: errors still answer in the API's JSON shape."""

from rest_framework import renderers


class JsonErrorsMixin:
    """Errors answer in the API's JSON shape even when the client asked for a file type
    (``Accept: text/csv`` or ``?format=csv``): the schema documents errors as JSON only."""

    def finalize_response(self, request, response, *args, **kwargs):
        renderer = getattr(request, "accepted_renderer", None)
        if response.status_code >= 400 and not isinstance(renderer, renderers.JSONRenderer):
            request.accepted_renderer = renderers.JSONRenderer()
            request.accepted_media_type = request.accepted_renderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)
