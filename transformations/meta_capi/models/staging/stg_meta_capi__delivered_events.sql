{#- One row per event identity (pixel_id, event_id, event_time): the destination is append+dedup
    and may still hold duplicates (append syncs, resets, a retried request staged twice). The
    latest extracted copy wins. -#}
{%- set columns = [
    ('pixel_id', 'string'), ('ad_account_id', 'string'), ('event_id', 'string'),
    ('event_name', 'string'), ('event_time', 'bigint'), ('event_at', 'timestamp'),
    ('action_source', 'string'), ('batch_id', 'string'), ('received_at', 'timestamp'),
    ('value_amount', 'float'), ('value_currency', 'string'),
    ('test_event_code', 'string'), ('is_test_event', 'boolean'), ('copies', 'bigint'),
] -%}
{%- if var('meta_capi_push_enabled') %}
with ranked as (
    select
        pixel_id,
        ad_account_id,
        event_id,
        event_name,
        cast(event_time as {{ dbt.type_bigint() }}) as event_time,
        action_source,
        batch_id,
        received_at,
        {{ meta_capi.json_number('custom_data', 'value') }} as value_amount,
        upper({{ meta_capi.json_text('custom_data', 'currency') }}) as value_currency,
        test_event_code,
        row_number() over (
            partition by pixel_id, event_id, event_time
            order by _airbyte_extracted_at desc, received_at desc, _airbyte_raw_id
        ) as copy_rank,
        count(*) over (partition by pixel_id, event_id, event_time) as copies
    from {{ source('meta_capi', 'delivered_events') }}
    where event_id is not null and event_time is not null
)
select
    pixel_id,
    {{ meta_capi.ad_account_id('ad_account_id') }} as ad_account_id,
    event_id,
    event_name,
    event_time,
    {{ meta_capi.epoch_to_timestamp('event_time') }} as event_at,
    action_source,
    batch_id,
    received_at,
    value_amount,
    value_currency,
    test_event_code,
    -- Meta shows test events in Events Manager only: they never count, attribute or cost.
    coalesce(test_event_code, '') <> '' as is_test_event,
    copies
from ranked
where copy_rank = 1
{%- else %}
{{ meta_capi.empty_relation(columns) }}
{%- endif %}
