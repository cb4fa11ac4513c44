{%- set columns = [('pixel_id', 'string'), ('ad_account_id', 'string'), ('pixel_name', 'string')] -%}
{%- if var('meta_capi_pull_enabled') %}
with ranked as (
    select
        pixels.*,
        row_number() over (partition by id order by _airbyte_extracted_at desc, _airbyte_raw_id) as copy_rank
    from {{ source('meta_capi', 'pixels') }} as pixels
)

select
    coalesce(pixel_id, id) as pixel_id,
    {{ meta_capi.ad_account_id('ad_account_id') }} as ad_account_id,
    name as pixel_name
from ranked
where copy_rank = 1
{%- else %}
{{ meta_capi.empty_relation(columns) }}
{%- endif %}
