{%- set columns = [
    ('pixel_id', 'string'), ('ad_account_id', 'string'), ('snapshot_date', 'date'), ('event_name', 'string'),
    ('match_quality_score', 'float'), ('event_coverage_pct', 'float'), ('acr_pct', 'float'),
    ('upload_frequency', 'string'),
] -%}
{%- if var('meta_capi_pull_enabled') %}
with ranked as (
    select
        quality.*,
        row_number() over (
            partition by pixel_id, event_name, snapshot_date
            order by _airbyte_extracted_at desc, _airbyte_raw_id
        ) as copy_rank
    from {{ source('meta_capi', 'dataset_quality') }} as quality
)

select
    pixel_id,
    {{ meta_capi.ad_account_id('ad_account_id') }} as ad_account_id,
    cast(snapshot_date as date) as snapshot_date,
    event_name,
    {{ meta_capi.json_number('event_match_quality', 'composite_score') }} as match_quality_score,
    {{ meta_capi.json_number('event_coverage', 'percentage') }} as event_coverage_pct,
    {{ meta_capi.json_number('acr', 'percentage') }} as acr_pct,
    {{ meta_capi.json_text('data_freshness', 'upload_frequency') }} as upload_frequency
from ranked
where copy_rank = 1
{%- else %}
{{ meta_capi.empty_relation(columns) }}
{%- endif %}
