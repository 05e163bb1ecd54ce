"""Media: downloading from the source, fitting the target's limits, planning which part of
a mirrored post carries which media. No network-specific types here."""
