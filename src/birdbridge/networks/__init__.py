"""One adapter per network; network-specific types never leave this package."""
