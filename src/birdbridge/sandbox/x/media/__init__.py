"""X's media in the sandbox: kinds.py (categories, types, limits, messages), store.py (uploads
as the server keeps them), routes.py (the media endpoints), schema.py (their request bodies as
the reference declares them), rules.py and probe.py (what processing checks in a video or GIF)."""
