"""Transport: the only package that knows WeChat (XML, signatures, AES, HTTP APIs)."""
