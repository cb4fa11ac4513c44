{#- source-facebook-marketing's ad_account: `id` is `act_<digits>`, `account_id` the digits. -#}
{%- set columns = [('ad_account_id', 'string'), ('account_name', 'string'), ('timezone_name', 'string'), ('currency', 'string')] -%}
{%- if var('facebook_marketing_enabled') %}
with ranked as (
    select
        {{ meta_capi.ad_account_id('coalesce(account_id, id)') }} as ad_account_id,
        name as account_name,
        timezone_name,
        upper(currency) as currency,
        _airbyte_extracted_at,
        _airbyte_raw_id
    from {{ source('facebook_marketing', 'ad_account') }}
),

latest as (
    select
        ranked.*,
        row_number() over (partition by ad_account_id order by _airbyte_extracted_at desc, _airbyte_raw_id) as copy_rank
    from ranked
)

select ad_account_id, account_name, timezone_name, currency
from latest
where copy_rank = 1 and ad_account_id is not null
{%- else %}
{{ meta_capi.empty_relation(columns) }}
{%- endif %}
