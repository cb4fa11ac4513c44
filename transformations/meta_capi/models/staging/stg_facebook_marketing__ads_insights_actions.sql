{#- Meta-attributed pixel conversions per insights row: each `actions[]` / `action_values[]` item
    of an `offsite_conversion.fb_pixel_*` type (seed meta_capi_action_types), mapped to our event
    names, counting the attribution windows of var meta_capi_attribution_windows (the sum of those
    keys of the item; Meta reports each window's count under its key, e.g. 7d_click, 1d_view). -#}
{%- set windows = meta_capi.attribution_windows() -%}
{%- set columns = [
    ('insights_row_id', 'string'), ('ad_account_id', 'string'), ('date_start', 'date'), ('action_type', 'string'),
    ('event_name', 'string'), ('attributed_conversions', 'float'), ('attributed_value', 'float'),
] -%}
{%- if var('facebook_marketing_enabled') %}
with rows_ as (
    {{ meta_capi.latest_ads_insights() }}
),

counts as (
    select
        rows_._airbyte_raw_id as insights_row_id,
        {{ meta_capi.json_text(meta_capi.json_element('action'), 'action_type') }} as action_type,
        sum({{ meta_capi.sum_windows(meta_capi.json_element('action'), windows) }}) as attributed
    from rows_
    {{ meta_capi.json_array_join('rows_.actions', 'action') }}
    group by 1, 2
),

amounts as (
    select
        rows_._airbyte_raw_id as insights_row_id,
        {{ meta_capi.json_text(meta_capi.json_element('action_value'), 'action_type') }} as action_type,
        sum({{ meta_capi.sum_windows(meta_capi.json_element('action_value'), windows) }}) as attributed
    from rows_
    {{ meta_capi.json_array_join('rows_.action_values', 'action_value') }}
    group by 1, 2
),

typed as (
    select distinct insights_row_id, action_type
    from (
        select insights_row_id, action_type from counts
        union all
        select insights_row_id, action_type from amounts
    ) as both_sides
)

select
    typed.insights_row_id,
    {{ meta_capi.ad_account_id('rows_.account_id') }} as ad_account_id,
    cast(rows_.date_start as date) as date_start,
    typed.action_type,
    action_types.event_name,
    coalesce(counts.attributed, 0) as attributed_conversions,
    coalesce(amounts.attributed, 0) as attributed_value
from typed
inner join {{ ref('meta_capi_action_types') }} as action_types
    on typed.action_type = action_types.action_type
inner join rows_
    on typed.insights_row_id = rows_._airbyte_raw_id
left join counts
    on typed.insights_row_id = counts.insights_row_id and typed.action_type = counts.action_type
left join amounts
    on typed.insights_row_id = amounts.insights_row_id and typed.action_type = amounts.action_type
{%- else %}
{{ meta_capi.empty_relation(columns) }}
{%- endif %}
