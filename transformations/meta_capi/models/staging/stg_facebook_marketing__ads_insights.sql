{#- One row per insights row (date_start × account × ad/adset/campaign as the connection's level
    and breakdowns make it); the latest extracted copy wins, because Meta restates recent days
    and the connector re-reads them (insights_lookback_window). Spend is in account_currency. -#}
{%- set columns = [
    ('insights_row_id', 'string'), ('ad_account_id', 'string'), ('date_start', 'date'), ('spend', 'float'),
    ('account_currency', 'string'),
] -%}
{%- if var('facebook_marketing_enabled') %}
with ranked as (
    select
        insights.*,
        row_number() over (
            partition by account_id, date_start, campaign_id, adset_id, ad_id
            order by _airbyte_extracted_at desc, _airbyte_raw_id
        ) as copy_rank
    from {{ source('facebook_marketing', 'ads_insights') }} as insights
)

select
    _airbyte_raw_id as insights_row_id,
    {{ meta_capi.ad_account_id('account_id') }} as ad_account_id,
    cast(date_start as date) as date_start,
    cast(spend as {{ meta_capi.type_double() }}) as spend,
    upper(account_currency) as account_currency
from ranked
where copy_rank = 1
{%- else %}
{{ meta_capi.empty_relation(columns) }}
{%- endif %}
