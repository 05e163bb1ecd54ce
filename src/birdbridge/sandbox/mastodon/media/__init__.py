"""What Mastodon's media are, apart from any server state: kinds.py (the types it takes, its
default limits, the kind and extension a file gets), meta.py (what it records of a file). The
server's media part is media_store.py and media_routes.py beside this package."""
