"""Discord extensions, one module per feature; modules starting with `_` are shared helpers, not extensions."""
