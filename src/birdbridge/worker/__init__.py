"""One worker process of `birdbridge run`: the links it holds (holdings.py) and the scheduler
that polls them on time (scheduler.py)."""
