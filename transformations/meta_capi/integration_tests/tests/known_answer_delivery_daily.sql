-- Hand-computed: integration_tests/dbt_fixtures/records.py (docstring) derives every row.
{{ expect_equal(ref('meta_capi__delivery_daily'), ref('expected_delivery_daily'), ['pixel_id', 'event_name', 'event_date']) }}
