"""The web console (issue 13): advisor and supervisor pages served by the engine's own HTTP server.

`session.py` (the signed session cookie and its CSRF token), `routes.py` (login, logout, the
pages), `stream.py` (the SSE push stream), `wallboard.py` (the wallboard and rules-status reads),
`static/` (hand-written HTML, CSS and ES modules, no build step). See docs/console.md.
"""
