"""Notices: workers broadcast to the residents and group chats of a scope.

``rules`` is pure (who a scope selects, muting, backoff, progress); ``service``
creates notices and expands them to delivery rows once; ``api`` is the JSON API.
The sending itself is ``bot.deliver``.
"""
