"""The deployment's own files (config/Caddyfile), checked by the tools that run them."""
