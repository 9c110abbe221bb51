"""Pure renderers: data in, text or dicts out. No Pulumi imports."""
