"""Pure text functions: no I/O, no clock. Same input, same output."""
