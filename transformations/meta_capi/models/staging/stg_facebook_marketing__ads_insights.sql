{#- One row per insights row (date_start × account × ad/adset/campaign as the connection's level
    and breakdowns make it), its latest extracted copy (macro latest_ads_insights). Spend is in
    account_currency. -#}
{%- set columns = [
    ('insights_row_id', 'string'), ('ad_account_id', 'string'), ('date_start', 'date'), ('spend', 'float'),
    ('account_currency', 'string'),
] -%}
{%- if var('facebook_marketing_enabled') %}
with latest as (
    {{ meta_capi.latest_ads_insights() }}
)

select
    _airbyte_raw_id as insights_row_id,
    {{ meta_capi.ad_account_id('account_id') }} as ad_account_id,
    cast(date_start as date) as date_start,
    cast(spend as {{ meta_capi.type_double() }}) as spend,
    upper(account_currency) as account_currency
from latest
{%- else %}
{{ meta_capi.empty_relation(columns) }}
{%- endif %}
