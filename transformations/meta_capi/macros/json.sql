{#-
  Airbyte lands nested objects and arrays (user_data, custom_data, actions, event_ids, ...) as the
  warehouse's JSON type: DuckDB JSON (PyAirbyte's cache), BigQuery JSON, Snowflake VARIANT,
  Postgres JSONB, Redshift SUPER. These macros read them portably.

  Tested: DuckDB (integration_tests/test_dbt_*.py). Postgres: checked by hand against PostgreSQL
  15 (integration_tests/dbt_fixtures/adapter_checks.py), not in CI. BigQuery, Snowflake,
  Redshift: compiled and syntax-parsed only, never run on a warehouse.
-#}

{#- The text of `key` in the JSON object `expr` (null when absent). Keys may start with a digit
    (ads_insights' `7d_click`), hence the quoting in JSON paths. -#}
{% macro json_text(expr, key) -%}
  {{ return(adapter.dispatch('json_text', 'meta_capi')(expr, key)) }}
{%- endmacro %}

{% macro default__json_text(expr, key) -%}
  json_extract_path_text({{ expr }}, '{{ key }}')
{%- endmacro %}

{% macro duckdb__json_text(expr, key) -%}
  json_extract_string({{ expr }}, '$."{{ key }}"')
{%- endmacro %}

{% macro bigquery__json_text(expr, key) -%}
  json_value({{ expr }}, '$."{{ key }}"')
{%- endmacro %}

{% macro snowflake__json_text(expr, key) -%}
  get({{ expr }}, '{{ key }}')::varchar
{%- endmacro %}

{% macro postgres__json_text(expr, key) -%}
  (cast({{ expr }} as jsonb) ->> '{{ key }}')
{%- endmacro %}

{% macro redshift__json_text(expr, key) -%}
  json_extract_path_text(json_serialize({{ expr }}), '{{ key }}', true)
{%- endmacro %}

{#- The number at `key` of the JSON object `expr`, as a float. -#}
{% macro json_number(expr, key) -%}
  cast({{ meta_capi.json_text(expr, key) }} as {{ meta_capi.type_double() }})
{%- endmacro %}

{#- A FROM-clause fragment that joins each row to the elements of its JSON array `expr`, one row
    per element under `alias` (rows whose array is null or empty drop out). Put it right after
    the table it unnests; read elements with json_element / json_element_text. -#}
{% macro json_array_join(expr, alias) -%}
  {{ return(adapter.dispatch('json_array_join', 'meta_capi')(expr, alias)) }}
{%- endmacro %}

{% macro default__json_array_join(expr, alias) -%}
  cross join lateral jsonb_array_elements(cast({{ expr }} as jsonb)) as {{ alias }}(value)
{%- endmacro %}

{% macro duckdb__json_array_join(expr, alias) -%}
  cross join unnest(cast({{ expr }} as json[])) as {{ alias }}(value)
{%- endmacro %}

{% macro bigquery__json_array_join(expr, alias) -%}
  cross join unnest(json_query_array({{ expr }}, '$')) as {{ alias }}
{%- endmacro %}

{% macro snowflake__json_array_join(expr, alias) -%}
  , lateral flatten(input => {{ expr }}) as {{ alias }}
{%- endmacro %}

{% macro redshift__json_array_join(expr, alias) -%}
  {#- PartiQL navigation over a SUPER column (Airbyte's Redshift destination writes SUPER). -#}
  , {{ expr }} as {{ alias }}
{%- endmacro %}

{#- The JSON value of the current element of json_array_join(..., alias). -#}
{% macro json_element(alias) -%}
  {{ return(adapter.dispatch('json_element', 'meta_capi')(alias)) }}
{%- endmacro %}

{% macro default__json_element(alias) -%}{{ alias }}.value{%- endmacro %}
{% macro bigquery__json_element(alias) -%}{{ alias }}{%- endmacro %}
{% macro redshift__json_element(alias) -%}{{ alias }}{%- endmacro %}

{#- The text of the current element when the array holds strings (event_ids). -#}
{% macro json_element_text(alias) -%}
  {{ return(adapter.dispatch('json_element_text', 'meta_capi')(alias)) }}
{%- endmacro %}

{% macro default__json_element_text(alias) -%}({{ alias }}.value #>> '{}'){%- endmacro %}
{% macro duckdb__json_element_text(alias) -%}json_extract_string({{ alias }}.value, '$'){%- endmacro %}
{% macro bigquery__json_element_text(alias) -%}json_value({{ alias }}){%- endmacro %}
{% macro snowflake__json_element_text(alias) -%}{{ alias }}.value::varchar{%- endmacro %}
{% macro redshift__json_element_text(alias) -%}cast({{ alias }} as varchar){%- endmacro %}
