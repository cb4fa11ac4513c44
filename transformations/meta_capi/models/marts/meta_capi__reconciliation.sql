{#- The reconciliation: per ad account × day (the ad account's time zone) × conversion event,
    what was spent, what Meta attributed, what we sent, what Meta accepted and counted, and what
    it was worth — with the KPIs and a status flagging gaps beyond the thresholds (vars).

    Dating differs by side (docs/reconciliation.md): attributed conversions are dated by the
    impression/click day (ads_insights.date_start), our events by event time. They agree over
    windows, not day by day. spend is the account-day's total, repeated on each event row of the
    day: sum it over distinct (ad_account_id, event_date), never over rows. Rows of a day with
    spend but no conversion on either side have event_name '(no conversions)'. -#}
{%- set push = var('meta_capi_push_enabled') -%}
{%- set pull = var('meta_capi_pull_enabled') -%}
{%- set ads = var('facebook_marketing_enabled') -%}
with server as (
    select
        ad_account_id,
        event_date,
        event_name,
        sum(events_sent) as events_sent,
        sum(events_accepted) as events_accepted,
        sum(events_rejected) as events_rejected,
        sum(events_failed) as events_failed,
        sum(events_pending) as events_pending,
        sum(events_dead_lettered_intake) as events_dead_lettered_intake,
        sum(test_events) as test_events,
        sum(sent_value) as server_value,
        sum(accepted_value) as accepted_value,
        sum(events_other_currency) as events_other_currency
    from {{ ref('meta_capi__delivery_daily') }}
    where ad_account_id is not null
    group by ad_account_id, event_date, event_name
),

counted as (
    select ad_account_id, event_date, event_name, sum(events_counted) as events_counted
    from {{ ref('meta_capi__meta_counted_daily') }}
    where ad_account_id is not null
    group by ad_account_id, event_date, event_name
),

attributed as (
    select
        ad_account_id,
        date_start as event_date,
        event_name,
        sum(attributed_conversions) as attributed_conversions,
        sum(attributed_value) as attributed_value
    from {{ ref('stg_facebook_marketing__ads_insights_actions') }}
    group by ad_account_id, date_start, event_name
),

spend as (
    select ad_account_id, date_start as event_date, sum(spend) as spend
    from {{ ref('stg_facebook_marketing__ads_insights') }}
    group by ad_account_id, date_start
),

quality as (
    select ad_account_id, snapshot_date as event_date, event_name, avg(match_quality_score) as match_quality_score
    from {{ ref('meta_capi__match_quality') }}
    where ad_account_id is not null
    group by ad_account_id, snapshot_date, event_name
),

event_keys as (
    select distinct ad_account_id, event_date, event_name
    from (
        select ad_account_id, event_date, event_name from server
        union all
        select ad_account_id, event_date, event_name from counted
        union all
        select ad_account_id, event_date, event_name from attributed
    ) as every_side
),

keys as (
    select ad_account_id, event_date, event_name from event_keys
    union all
    select spend.ad_account_id, spend.event_date, '(no conversions)' as event_name
    from spend
    left join (select distinct ad_account_id, event_date from event_keys) as days
        on spend.ad_account_id = days.ad_account_id and spend.event_date = days.event_date
    where days.ad_account_id is null
),

joined as (
    select
        keys.ad_account_id,
        keys.event_date,
        keys.event_name,
        accounts.timezone_name,
        accounts.currency as account_currency,
        coalesce(spend.spend, 0) as spend,
        coalesce(attributed.attributed_conversions, 0) as attributed_conversions,
        coalesce(attributed.attributed_value, 0) as attributed_value,
        coalesce(server.events_sent, 0) as events_sent,
        coalesce(server.events_accepted, 0) as events_accepted,
        coalesce(server.events_rejected, 0) as events_rejected,
        coalesce(server.events_failed, 0) as events_failed,
        coalesce(server.events_pending, 0) as events_pending,
        coalesce(server.events_dead_lettered_intake, 0) as events_dead_lettered_intake,
        coalesce(counted.events_counted, 0) as events_counted,
        coalesce(server.server_value, 0) as server_value,
        coalesce(server.accepted_value, 0) as accepted_value,
        coalesce(server.events_other_currency, 0) as events_other_currency,
        coalesce(server.test_events, 0) as test_events,
        quality.match_quality_score,
        -- Only pixel events ads_insights reports (seed meta_capi_action_types) can be attributed.
        case when attributable.event_name is null then false else true end as is_attributable
    from keys
    left join {{ ref('int_meta_capi__ad_accounts') }} as accounts
        on keys.ad_account_id = accounts.ad_account_id
    left join spend
        on keys.ad_account_id = spend.ad_account_id and keys.event_date = spend.event_date
    left join attributed
        on keys.ad_account_id = attributed.ad_account_id and keys.event_date = attributed.event_date
        and keys.event_name = attributed.event_name
    left join server
        on keys.ad_account_id = server.ad_account_id and keys.event_date = server.event_date
        and keys.event_name = server.event_name
    left join counted
        on keys.ad_account_id = counted.ad_account_id and keys.event_date = counted.event_date
        and keys.event_name = counted.event_name
    left join quality
        on keys.ad_account_id = quality.ad_account_id and keys.event_date = quality.event_date
        and keys.event_name = quality.event_name
    left join (select distinct event_name from {{ ref('meta_capi_action_types') }}) as attributable
        on keys.event_name = attributable.event_name
),

kpis as (
    select
        joined.*,
        {{ meta_capi.ratio('events_accepted', 'events_sent') }} as delivery_rate,
        {{ meta_capi.ratio('events_sent - events_counted', 'events_sent') }} as sent_vs_counted_loss,
        {{ meta_capi.ratio('attributed_conversions', 'events_sent') }} as attribution_coverage,
        {{ meta_capi.ratio('spend', 'attributed_conversions') }} as cpa_attributed,
        {{ meta_capi.ratio('spend', 'events_sent') }} as cpa_server,
        {{ meta_capi.ratio('attributed_value', 'spend') }} as roas_attributed,
        {{ meta_capi.ratio('server_value', 'spend') }} as roas_server
    from joined
),

flagged as (
    select
        kpis.*,
        {{ 'events_sent > 0 and delivery_rate < ' ~ var('meta_capi_min_delivery_rate') if push else 'false' }} as is_delivery_gap,
        {{ 'events_sent > 0 and sent_vs_counted_loss > ' ~ var('meta_capi_max_counted_loss') if (push and pull) else 'false' }} as is_counting_gap,
        {{ "is_attributable and events_sent > 0 and attribution_coverage < " ~ var('meta_capi_min_attribution_coverage') if (push and ads) else 'false' }} as is_attribution_gap,
        events_other_currency > 0 as is_currency_mismatch,
        events_pending > 0 as is_pending,
        events_dead_lettered_intake > 0 as is_intake_rejected,
        {{ "events_sent = 0 and event_name <> '(no conversions)' and (attributed_conversions > 0 or events_counted > 0)" if push else 'false' }} as is_no_server_events,
        event_name = '(no conversions)' and spend > 0 as is_no_conversions
    from kpis
),

statused as (
    select
        flagged.*,
        {{ dbt.concat([
            "case when is_delivery_gap then ',delivery_gap' else '' end",
            "case when is_counting_gap then ',counting_gap' else '' end",
            "case when is_attribution_gap then ',attribution_gap' else '' end",
            "case when is_currency_mismatch then ',currency_mismatch' else '' end",
            "case when is_pending then ',pending' else '' end",
            "case when is_intake_rejected then ',intake_rejected' else '' end",
            "case when is_no_server_events then ',no_server_events' else '' end",
            "case when is_no_conversions then ',no_conversions' else '' end",
        ]) }} as flags
    from flagged
)

select
    ad_account_id,
    event_date,
    event_name,
    timezone_name,
    account_currency,
    spend,
    attributed_conversions,
    attributed_value,
    events_sent,
    events_accepted,
    events_rejected,
    events_failed,
    events_pending,
    events_dead_lettered_intake,
    events_counted,
    server_value,
    accepted_value,
    events_other_currency,
    test_events,
    match_quality_score,
    delivery_rate,
    sent_vs_counted_loss,
    attribution_coverage,
    cpa_attributed,
    cpa_server,
    roas_attributed,
    roas_server,
    case when flags = '' then 'ok' else substr(flags, 2) end as status
from statused
