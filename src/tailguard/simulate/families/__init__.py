"""Built-in model families, one module each; they register into ``FAMILIES`` lazily."""
