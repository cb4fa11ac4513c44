-- Hand-computed: the 11-19 23:00 UTC bucket is 11-20 08:00 in Tokyo; the 11-20 03:00 bucket was
-- restated from 2 to 1 (latest extraction wins); event_source buckets are not event counts.
{{ expect_equal(ref('meta_capi__meta_counted_daily'), ref('expected_meta_counted_daily'), ['pixel_id', 'event_name', 'event_date']) }}
