"""Known-answer fixtures for the meta_capi dbt package (transformations/meta_capi)."""
