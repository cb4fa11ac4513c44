{#- What Meta counted per pixel × ad account × event × day: pixel_stats (aggregation `event`), hourly
    UTC buckets folded into the ad account's local day (a bucket belongs to the day its start hour
    falls in; time zones with a 30/45-minute offset split an hour we cannot split). Meta counts
    every event the pixel received: browser and server, ours and anyone else's. -#}
{%- set tz_default = "'" ~ var('meta_capi_default_timezone') ~ "'" -%}
with stats as (
    select
        stats.pixel_id,
        coalesce(stats.ad_account_id, pixel_accounts.ad_account_id) as ad_account_id,
        stats.start_time,
        stats.event_name,
        stats.event_count
    from {{ ref('stg_meta_capi__pixel_stats') }} as stats
    left join {{ ref('int_meta_capi__pixel_accounts') }} as pixel_accounts
        on stats.pixel_id = pixel_accounts.pixel_id
)

select
    stats.pixel_id,
    stats.ad_account_id,
    stats.event_name,
    {{ meta_capi.local_date('stats.start_time', 'coalesce(accounts.timezone_name, ' ~ tz_default ~ ')') }} as event_date,
    sum(stats.event_count) as events_counted,
    count(*) as hourly_buckets
from stats
left join {{ ref('int_meta_capi__ad_accounts') }} as accounts
    on stats.ad_account_id = accounts.ad_account_id
group by 1, 2, 3, 4
