{#- The ad account of each pixel, for records that do not carry one: the pixels stream, else the
    ad account its delivered events carry (the source stamps the config's; max if it changed). -#}
with from_events as (
    select pixel_id, max(ad_account_id) as ad_account_id
    from {{ ref('stg_meta_capi__delivered_events') }}
    where ad_account_id is not null
    group by pixel_id
),

pixel_ids as (
    select distinct pixel_id
    from (
        select pixel_id from {{ ref('stg_meta_capi__pixels') }}
        union all
        select pixel_id from from_events
    ) as both_sides
)

select
    pixel_ids.pixel_id,
    coalesce(pixels.ad_account_id, from_events.ad_account_id) as ad_account_id
from pixel_ids
left join {{ ref('stg_meta_capi__pixels') }} as pixels on pixel_ids.pixel_id = pixels.pixel_id
left join from_events on pixel_ids.pixel_id = from_events.pixel_id
