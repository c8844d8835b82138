"""Access log without query strings or path secrets.

WeChat puts the resident's openid and the request's signature in the query string;
paths carry login QR tickets (``/api/v1/auth/qr/{ticket}``) and other tokens. Only
the method, the route's template (numeric path values kept, every other one shown
as ``{name}``) and the status are written.
"""

from __future__ import annotations

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, Request, StaticResource, StreamResponse

UNROUTED = "(no route)"


def loggable_path(request: BaseRequest) -> str:
    """The path as the log may show it: the matched route's template, ids filled in."""
    if not isinstance(request, Request):
        return UNROUTED
    info = request.match_info
    resource = info.route.resource
    if resource is None or getattr(info, "http_exception", None) is not None:
        # No route matched (a 404 or 405): the path is the caller's, and may hold anything.
        return UNROUTED
    if isinstance(resource, StaticResource):
        return request.path  # console files: their names are no secret
    template = resource.canonical
    for name, value in info.items():
        if value.isdigit() and value.isascii():
            template = template.replace("{" + name + "}", value)
    return template


class PathOnlyAccessLogger(AbstractAccessLogger):
    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %s %d %.1fms",
            request.remote,
            request.method,
            loggable_path(request),
            response.status,
            time * 1000,
        )
