{#- One row per (status record, event id): delivery_statuses holds one record per HTTP attempt of a
    batch, listing the attempt's event ids. Records dedup on the stream's primary key
    (pixel_id, batch_id, attempt) first. -#}
{%- set columns = [
    ('pixel_id', 'string'), ('batch_id', 'string'), ('attempt', 'bigint'), ('recorded_at', 'timestamp'),
    ('outcome', 'string'), ('http_status', 'bigint'), ('test_event_code', 'string'), ('event_id', 'string'),
] -%}
{%- if var('meta_capi_push_enabled') %}
with ranked as (
    select
        statuses.*,
        row_number() over (
            partition by pixel_id, batch_id, attempt
            order by _airbyte_extracted_at desc, recorded_at desc, _airbyte_raw_id
        ) as copy_rank
    from {{ source('meta_capi', 'delivery_statuses') }} as statuses
),

latest as (
    select * from ranked where copy_rank = 1
)

select
    latest.pixel_id,
    latest.batch_id,
    cast(latest.attempt as {{ dbt.type_bigint() }}) as attempt,
    latest.recorded_at,
    latest.outcome,
    cast(latest.http_status as {{ dbt.type_bigint() }}) as http_status,
    latest.test_event_code,
    {{ meta_capi.json_element_text('attempted') }} as event_id
from latest
{{ meta_capi.json_array_join('latest.event_ids', 'attempted') }}
{%- else %}
{{ meta_capi.empty_relation(columns) }}
{%- endif %}
