{#- Delivery per pixel × ad account × event name × day (the ad account's time zone, by event time):
    what we sent (staged, distinct, test events excluded) and what became of it. Identity:
    events_sent = events_accepted + events_rejected + events_failed + events_pending.
    events_dead_lettered_intake were refused by our receiver before staging (never sent);
    test_events (test_event_code set) are counted here only. ad_account_id is null for pixels
    mapped to no ad account. -#}
{%- set tz_default = "'" ~ var('meta_capi_default_timezone') ~ "'" -%}
with fates as (
    select
        pixel_id,
        ad_account_id,
        event_name,
        event_date,
        case when is_test_event then 0 else 1 end as sent,
        case when not is_test_event and fate = 'accepted' then 1 else 0 end as accepted,
        case when not is_test_event and fate = 'rejected' then 1 else 0 end as rejected,
        case when not is_test_event and fate = 'failed' then 1 else 0 end as failed,
        case when not is_test_event and fate = 'pending' then 1 else 0 end as pending,
        0 as dead_lettered_intake,
        case when is_test_event then 1 else 0 end as test_events,
        case when is_test_event then 0 else copies - 1 end as duplicate_copies,
        case when is_test_event then null else value_in_account_currency end as sent_value,
        case when not is_test_event and fate = 'accepted' then value_in_account_currency end as accepted_value,
        case when not is_test_event and is_other_currency then 1 else 0 end as other_currency
    from {{ ref('int_meta_capi__event_fates') }}
),

intake as (
    select
        letters.pixel_id,
        coalesce(letters.ad_account_id, pixel_accounts.ad_account_id) as ad_account_id,
        coalesce(letters.event_name, '(unknown)') as event_name,
        {{ meta_capi.local_date('letters.event_at', 'coalesce(accounts.timezone_name, ' ~ tz_default ~ ')') }} as event_date,
        0 as sent, 0 as accepted, 0 as rejected, 0 as failed, 0 as pending,
        1 as dead_lettered_intake,
        0 as test_events,
        0 as duplicate_copies,
        cast(null as {{ meta_capi.type_double() }}) as sent_value,
        cast(null as {{ meta_capi.type_double() }}) as accepted_value,
        0 as other_currency
    from {{ ref('stg_meta_capi__dead_letters') }} as letters
    left join {{ ref('int_meta_capi__pixel_accounts') }} as pixel_accounts
        on letters.pixel_id = pixel_accounts.pixel_id
    left join {{ ref('int_meta_capi__ad_accounts') }} as accounts
        on coalesce(letters.ad_account_id, pixel_accounts.ad_account_id) = accounts.ad_account_id
    where letters.stage = 'intake'
),

unioned as (
    select * from fates
    union all
    select * from intake
)

select
    pixel_id,
    ad_account_id,
    event_name,
    event_date,
    sum(sent) as events_sent,
    sum(accepted) as events_accepted,
    sum(rejected) as events_rejected,
    sum(failed) as events_failed,
    sum(pending) as events_pending,
    sum(dead_lettered_intake) as events_dead_lettered_intake,
    sum(test_events) as test_events,
    sum(duplicate_copies) as duplicate_copies,
    coalesce(sum(sent_value), 0) as sent_value,
    coalesce(sum(accepted_value), 0) as accepted_value,
    sum(other_currency) as events_other_currency
from unioned
group by pixel_id, ad_account_id, event_name, event_date
