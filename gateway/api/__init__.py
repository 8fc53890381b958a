"""HTTP routes: the only layer that knows about status codes and wire formats."""
