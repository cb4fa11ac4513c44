"""Meta's Conversions API event model: validation, normalization and hashing, the CAPI client."""
