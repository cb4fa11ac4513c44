{#- Meta's own count of events per pixel, hourly UTC buckets (aggregation `event`: value is the
    event name). Meta restates recent hours and the source re-reads them (lookback), so the
    latest extracted copy of (pixel_id, aggregation, start_time, value) wins. -#}
{%- set columns = [
    ('pixel_id', 'string'), ('ad_account_id', 'string'), ('start_time', 'timestamp'),
    ('event_name', 'string'), ('event_count', 'bigint'),
] -%}
{%- if var('meta_capi_pull_enabled') %}
with ranked as (
    select
        pixel_id,
        ad_account_id,
        start_time,
        {{ meta_capi.quote_column('value') }} as event_name,
        cast({{ meta_capi.quote_column('count') }} as {{ dbt.type_bigint() }}) as event_count,
        row_number() over (
            partition by pixel_id, aggregation, start_time, {{ meta_capi.quote_column('value') }}
            order by _airbyte_extracted_at desc, _airbyte_raw_id
        ) as copy_rank
    from {{ source('meta_capi', 'pixel_stats') }}
    where aggregation = 'event'
)

select
    pixel_id,
    {{ meta_capi.ad_account_id('ad_account_id') }} as ad_account_id,
    start_time,
    event_name,
    event_count
from ranked
where copy_rank = 1
{%- else %}
{{ meta_capi.empty_relation(columns) }}
{%- endif %}
