"""Who may ask what, and the record of it: `auth` (bearer tokens with roles), `gate` (the ASGI
middleware: authentication and rate limits before anything), `ratelimit` (a token bucket per
caller), `audit` (every mutating request, before and after)."""
