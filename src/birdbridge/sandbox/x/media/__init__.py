"""What X's media are, apart from any server state: kinds.py (categories, types, limits,
messages), schema.py (the upload endpoints' request bodies as the reference declares them),
rules.py and probe.py (what processing checks in a video or an animated GIF). The server's
media part is media_store.py and media_routes.py beside this package."""
