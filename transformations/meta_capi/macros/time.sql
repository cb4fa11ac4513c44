{#- Time helpers. Tested on DuckDB; Postgres checked by hand; BigQuery, Snowflake and Redshift
    compiled and syntax-parsed only (see macros/json.sql). -#}

{#- A UTC instant from Unix seconds (delivered_events.event_time, dead_letters.event_time). -#}
{% macro epoch_to_timestamp(expr) -%}
  {{ return(adapter.dispatch('epoch_to_timestamp', 'meta_capi')(expr)) }}
{%- endmacro %}

{% macro default__epoch_to_timestamp(expr) -%}to_timestamp({{ expr }}){%- endmacro %}
{% macro bigquery__epoch_to_timestamp(expr) -%}timestamp_seconds(cast({{ expr }} as int64)){%- endmacro %}
{% macro snowflake__epoch_to_timestamp(expr) -%}to_timestamp_tz({{ expr }}){%- endmacro %}
{% macro redshift__epoch_to_timestamp(expr) -%}
  cast(timestamp 'epoch' + {{ expr }} * interval '1 second' as timestamptz)
{%- endmacro %}

{#- The calendar date of the instant `ts` (a timestamp with time zone, or UTC) in the IANA time
    zone `tz` (an expression: each ad account has its own). Not the UTC date. -#}
{% macro local_date(ts, tz) -%}
  {{ return(adapter.dispatch('local_date', 'meta_capi')(ts, tz)) }}
{%- endmacro %}

{% macro default__local_date(ts, tz) -%}cast(({{ ts }} at time zone {{ tz }}) as date){%- endmacro %}
{#- DuckDB: PyAirbyte's cache holds date-times as plain TIMESTAMP in UTC, an Airbyte destination
    as TIMESTAMPTZ; epoch() reads both as the same instant (timezone() alone would not). -#}
{% macro duckdb__local_date(ts, tz) -%}cast(timezone({{ tz }}, {{ meta_capi.as_instant(ts) }}) as date){%- endmacro %}

{#- A timestamp with time zone from a date-time column that may hold naive UTC (PyAirbyte's
    DuckDB cache) or a timestamp with time zone (Airbyte destinations). -#}
{% macro as_instant(expr) -%}
  {{ return(adapter.dispatch('as_instant', 'meta_capi')(expr)) }}
{%- endmacro %}
{% macro default__as_instant(expr) -%}{{ expr }}{%- endmacro %}
{% macro duckdb__as_instant(expr) -%}to_timestamp(epoch({{ expr }})){%- endmacro %}
{% macro bigquery__local_date(ts, tz) -%}date({{ ts }}, {{ tz }}){%- endmacro %}
{% macro snowflake__local_date(ts, tz) -%}cast(convert_timezone({{ tz }}, {{ ts }}) as date){%- endmacro %}
{% macro redshift__local_date(ts, tz) -%}cast(convert_timezone({{ tz }}, {{ ts }}) as date){%- endmacro %}
