"""Channel adapters: one file per provider behind the small interface in `base`."""
