{#- Every ad account any input names, with the time zone its days are counted in and its currency.
    Time zone: var meta_capi_account_timezones, else ad_account.timezone_name, else
    var meta_capi_default_timezone. Currency: var meta_capi_account_currencies, else
    ad_account.currency, else ads_insights.account_currency. -#}
with seen as (
    select ad_account_id from {{ ref('stg_facebook_marketing__ad_account') }}
    union all
    select ad_account_id from {{ ref('stg_facebook_marketing__ads_insights') }}
    union all
    select ad_account_id from {{ ref('stg_meta_capi__delivered_events') }}
    union all
    select ad_account_id from {{ ref('stg_meta_capi__dead_letters') }}
    union all
    select ad_account_id from {{ ref('stg_meta_capi__pixels') }}
    union all
    select ad_account_id from {{ ref('stg_meta_capi__pixel_stats') }}
    union all
    select ad_account_id from {{ ref('stg_meta_capi__dataset_quality') }}
),

ids as (
    select distinct ad_account_id from seen where ad_account_id is not null
),

timezone_overrides as (
    {{ meta_capi.mapping_relation(var('meta_capi_account_timezones'), 'ad_account_id', 'timezone_name') }}
),

currency_overrides as (
    {{ meta_capi.mapping_relation(var('meta_capi_account_currencies'), 'ad_account_id', 'currency') }}
),

insights_currency as (
    select ad_account_id, max(account_currency) as currency
    from {{ ref('stg_facebook_marketing__ads_insights') }}
    group by ad_account_id
)

select
    ids.ad_account_id,
    accounts.account_name,
    coalesce(timezone_overrides.timezone_name, accounts.timezone_name, '{{ var("meta_capi_default_timezone") }}') as timezone_name,
    case
        when timezone_overrides.timezone_name is not null then 'var'
        when accounts.timezone_name is not null then 'ad_account'
        else 'default'
    end as timezone_source,
    upper(coalesce(currency_overrides.currency, accounts.currency, insights_currency.currency)) as currency
from ids
left join {{ ref('stg_facebook_marketing__ad_account') }} as accounts
    on ids.ad_account_id = accounts.ad_account_id
left join timezone_overrides
    on {{ meta_capi.ad_account_id('timezone_overrides.ad_account_id') }} = ids.ad_account_id
left join currency_overrides
    on {{ meta_capi.ad_account_id('currency_overrides.ad_account_id') }} = ids.ad_account_id
left join insights_currency
    on ids.ad_account_id = insights_currency.ad_account_id
