{#- `act_<digits>`, the form our streams and Meta's ad_account.id use, from either form
    (ads_insights.account_id and ad_account.account_id are bare digits). -#}
{% macro ad_account_id(expr) -%}
  case
    when {{ expr }} is null or {{ expr }} = '' then null
    when substr({{ expr }}, 1, 4) = 'act_' then {{ expr }}
    else {{ dbt.concat(["'act_'", expr]) }}
  end
{%- endmacro %}

{#- The attribution windows (keys of an ads_insights action) to add up, as a list. -#}
{% macro attribution_windows() -%}
  {%- set windows = var('meta_capi_attribution_windows') -%}
  {%- if windows is string -%}
    {%- set windows = windows.split(',') | map('trim') | reject('equalto', '') | list -%}
  {%- endif -%}
  {%- for window in windows -%}
    {%- if not modules.re.match('^[0-9a-z_]+$', window) -%}
      {{ exceptions.raise_compiler_error("meta_capi_attribution_windows: invalid window " ~ window) }}
    {%- endif -%}
  {%- endfor -%}
  {{ return(windows) }}
{%- endmacro %}

{#- A column whose name is an SQL keyword (pixel_stats.count, .value). Snowflake's Airbyte
    destination upper-cases column names. -#}
{% macro quote_column(name) -%}
  {{ return(adapter.dispatch('quote_column', 'meta_capi')(name)) }}
{%- endmacro %}
{% macro default__quote_column(name) -%}{{ adapter.quote(name) }}{%- endmacro %}
{% macro snowflake__quote_column(name) -%}{{ adapter.quote(name | upper) }}{%- endmacro %}

{#- An empty relation with the given (name, type) columns: what a staging model yields when its
    stream is disabled, so every downstream model still builds (push-only, pull-only). Types are
    dbt's cross-database names: string, float, int, bigint, timestamp, date, boolean. -#}
{% macro empty_relation(columns) -%}
  select
  {%- for name, type in columns %}
    cast(null as {{ meta_capi.sql_type(type) }}) as {{ name }}{{ "," if not loop.last }}
  {%- endfor %}
  from (select 1 as one) as nothing
  where 1 = 0
{%- endmacro %}

{% macro sql_type(type) -%}
  {%- if type == 'string' -%}{{ dbt.type_string() }}
  {%- elif type == 'float' -%}{{ meta_capi.type_double() }}
  {%- elif type == 'int' -%}{{ dbt.type_int() }}
  {%- elif type == 'bigint' -%}{{ dbt.type_bigint() }}
  {%- elif type == 'timestamp' -%}{{ dbt.type_timestamp() }}
  {%- elif type == 'date' -%}date
  {%- elif type == 'boolean' -%}{{ dbt.type_boolean() }}
  {%- else -%}{{ exceptions.raise_compiler_error("meta_capi.sql_type: unknown type " ~ type) }}
  {%- endif -%}
{%- endmacro %}

{#- A (key, value) relation from a mapping var, e.g. meta_capi_account_timezones. -#}
{% macro mapping_relation(mapping, key_name, value_name) -%}
  {%- if mapping | length == 0 -%}
    {{ meta_capi.empty_relation([(key_name, 'string'), (value_name, 'string')]) }}
  {%- else -%}
    {%- for key, value in mapping.items() %}
    select cast('{{ key | replace("'", "''") }}' as {{ dbt.type_string() }}) as {{ key_name }},
           cast('{{ value | replace("'", "''") }}' as {{ dbt.type_string() }}) as {{ value_name }}
    {{ "union all" if not loop.last }}
    {%- endfor %}
  {%- endif -%}
{%- endmacro %}

{#- Safe division: null when the denominator is 0 or null. -#}
{% macro ratio(numerator, denominator) -%}
  case when {{ denominator }} is null or {{ denominator }} = 0 then null
       else cast({{ numerator }} as {{ meta_capi.type_double() }}) / {{ denominator }} end
{%- endmacro %}

{#- The sum of the attribution-window keys `windows` of the ads_insights action `element`. -#}
{% macro sum_windows(element, windows) -%}
  {%- for window in windows -%}
  coalesce({{ meta_capi.json_number(element, window) }}, 0){{ " + " if not loop.last }}
  {%- endfor -%}
{%- endmacro %}

{#- An 8-byte float. Not dbt.type_float(): on DuckDB that is FLOAT, 4 bytes, which turns a spend
    of 123456.78 into 123456.78125. -#}
{% macro type_double() -%}
  {{ return(adapter.dispatch('type_double', 'meta_capi')()) }}
{%- endmacro %}
{% macro default__type_double() -%}double precision{%- endmacro %}
{% macro duckdb__type_double() -%}double{%- endmacro %}
{% macro bigquery__type_double() -%}float64{%- endmacro %}
{% macro snowflake__type_double() -%}float{%- endmacro %}

{#- ads_insights with one copy per row (account × day × campaign/adset/ad): the latest extracted
    copy wins, because Meta restates recent days and the connector re-reads them
    (insights_lookback_window). All of the stream's columns, plus copy_rank. -#}
{% macro latest_ads_insights() -%}
  select *
  from (
    select
      insights.*,
      row_number() over (
        partition by account_id, date_start, campaign_id, adset_id, ad_id
        order by _airbyte_extracted_at desc, _airbyte_raw_id
      ) as copy_rank
    from {{ source('facebook_marketing', 'ads_insights') }} as insights
  ) as ranked
  where copy_rank = 1
{%- endmacro %}
