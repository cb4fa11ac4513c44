{#- One row per dead letter (dead_letter_id is derived from what the letter is about, so a
    retried request writes the same id). stage: intake (refused by our validation, never
    staged as an event), meta_rejected, forwarding (retry budget or auth), expired. -#}
{%- set columns = [
    ('dead_letter_id', 'string'), ('pixel_id', 'string'), ('ad_account_id', 'string'),
    ('recorded_at', 'timestamp'), ('stage', 'string'), ('reason', 'string'), ('field', 'string'),
    ('batch_id', 'string'), ('event_id', 'string'), ('event_name', 'string'), ('event_time', 'bigint'),
    ('event_at', 'timestamp'),
] -%}
{%- if var('meta_capi_push_enabled') %}
with ranked as (
    select
        letters.*,
        row_number() over (
            partition by dead_letter_id
            order by _airbyte_extracted_at desc, recorded_at desc, _airbyte_raw_id
        ) as copy_rank
    from {{ source('meta_capi', 'dead_letters') }} as letters
)

select
    dead_letter_id,
    pixel_id,
    {{ meta_capi.ad_account_id('ad_account_id') }} as ad_account_id,
    recorded_at,
    stage,
    reason,
    field,
    batch_id,
    event_id,
    event_name,
    cast(event_time as {{ dbt.type_bigint() }}) as event_time,
    -- An intake letter may lack a valid event_time (that can be why it was refused).
    coalesce({{ meta_capi.epoch_to_timestamp('event_time') }}, {{ meta_capi.as_instant('recorded_at') }}) as event_at
from ranked
where copy_rank = 1
{%- else %}
{{ meta_capi.empty_relation(columns) }}
{%- endif %}
