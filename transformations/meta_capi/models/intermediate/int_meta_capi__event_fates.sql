{#- Each distinct staged event (pixel_id, event_id, event_time) with what became of it, dated in
    its ad account's time zone.

    fate: accepted  - a status record with outcome `delivered` lists it (any batch, any attempt:
                      a batch Meta refused whole may be split and its good events re-sent);
          rejected  - not accepted, and Meta refused it (dead letter `meta_rejected`, or a
                      `rejected` status listing it);
          failed    - not accepted nor rejected, and given up (`gave_up` / `failed_auth` status,
                      dead letter `forwarding` or `expired`): replayable, never reached Meta;
          pending   - nothing final yet (no status, or only `retrying`).
    Statuses and dead letters name event ids, not event times: two identities sharing a pixel
    and an event_id share a fate. -#}
with statuses as (
    select
        pixel_id,
        event_id,
        max(case when outcome = 'delivered' then 1 else 0 end) as was_delivered,
        max(case when outcome = 'rejected' then 1 else 0 end) as was_rejected,
        max(case when outcome in ('gave_up', 'failed_auth') then 1 else 0 end) as was_given_up,
        count(*) as attempts
    from {{ ref('stg_meta_capi__delivery_status_events') }}
    group by pixel_id, event_id
),

letters as (
    select
        pixel_id,
        event_id,
        max(case when stage = 'meta_rejected' then 1 else 0 end) as was_rejected,
        max(case when stage in ('forwarding', 'expired') then 1 else 0 end) as was_given_up
    from {{ ref('stg_meta_capi__dead_letters') }}
    where stage <> 'intake' and event_id is not null
    group by pixel_id, event_id
),

events as (
    select
        events.*,
        coalesce(events.ad_account_id, pixel_accounts.ad_account_id) as resolved_ad_account_id
    from {{ ref('stg_meta_capi__delivered_events') }} as events
    left join {{ ref('int_meta_capi__pixel_accounts') }} as pixel_accounts
        on events.pixel_id = pixel_accounts.pixel_id
)

select
    events.pixel_id,
    events.resolved_ad_account_id as ad_account_id,
    events.event_id,
    events.event_time,
    events.event_at,
    coalesce(events.event_name, '(unknown)') as event_name,
    {{ meta_capi.local_date('events.event_at', "coalesce(accounts.timezone_name, '" ~ var('meta_capi_default_timezone') ~ "')") }} as event_date,
    events.is_test_event,
    events.test_event_code,
    events.copies,
    events.value_amount,
    events.value_currency,
    accounts.currency as account_currency,
    -- Values only add up in the account's currency; others are counted, never summed.
    case when events.value_currency = accounts.currency then events.value_amount end as value_in_account_currency,
    case
        when events.value_amount is null then false
        when accounts.currency is null or events.value_currency is null then true
        else events.value_currency <> accounts.currency
    end as is_other_currency,
    case
        when statuses.was_delivered = 1 then 'accepted'
        when statuses.was_rejected = 1 or letters.was_rejected = 1 then 'rejected'
        when statuses.was_given_up = 1 or letters.was_given_up = 1 then 'failed'
        else 'pending'
    end as fate,
    coalesce(statuses.attempts, 0) as attempts
from events
left join {{ ref('int_meta_capi__ad_accounts') }} as accounts
    on events.resolved_ad_account_id = accounts.ad_account_id
left join statuses
    on events.pixel_id = statuses.pixel_id and events.event_id = statuses.event_id
left join letters
    on events.pixel_id = letters.pixel_id and events.event_id = letters.event_id
