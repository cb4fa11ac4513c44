{#- Meta's view of each pixel's data quality per event and snapshot day (dataset_quality: event
    match quality 0-10 over the last 48 h, the share of pixel events also covered by our server
    events, the additional conversions reported). -#}
select
    quality.pixel_id,
    coalesce(quality.ad_account_id, pixel_accounts.ad_account_id) as ad_account_id,
    quality.event_name,
    quality.snapshot_date,
    quality.match_quality_score,
    quality.event_coverage_pct,
    quality.acr_pct,
    quality.upload_frequency
from {{ ref('stg_meta_capi__dataset_quality') }} as quality
left join {{ ref('int_meta_capi__pixel_accounts') }} as pixel_accounts
    on quality.pixel_id = pixel_accounts.pixel_id
