{#- Rows where `actual` and `expected` differ: a key in one and not the other, or a column whose
    values differ (numbers beyond a relative 1e-9, which a 4-byte float misses, anything else as text; null equals null). -#}
{% macro expect_equal(actual, expected, keys) %}
{%- set columns = adapter.get_columns_in_relation(expected) -%}
{%- set on = [] -%}
{%- for key in keys -%}{%- do on.append('e.' ~ key ~ ' = a.' ~ key) -%}{%- endfor -%}
with a as (select * from {{ actual }}),
e as (select * from {{ expected }})
select {% for key in keys %}cast(e.{{ key }} as {{ dbt.type_string() }}) as {{ key }}, {% endfor %}'missing from the model' as problem
from e left join a on {{ on | join(' and ') }}
where a.{{ keys[0] }} is null
union all
select {% for key in keys %}cast(a.{{ key }} as {{ dbt.type_string() }}) as {{ key }}, {% endfor %}'not expected' as problem
from a left join e on {{ on | join(' and ') }}
where e.{{ keys[0] }} is null
{%- for column in columns if column.name not in keys %}
union all
select {% for key in keys %}cast(e.{{ key }} as {{ dbt.type_string() }}) as {{ key }}, {% endfor %}
    '{{ column.name }}: expected ' || coalesce(cast(e.{{ column.name }} as {{ dbt.type_string() }}), 'null')
    || ', got ' || coalesce(cast(a.{{ column.name }} as {{ dbt.type_string() }}), 'null') as problem
from e inner join a on {{ on | join(' and ') }}
where not (
    (e.{{ column.name }} is null and a.{{ column.name }} is null)
    {%- if column.is_number() or column.is_numeric() or column.is_float() %}
    or abs(cast(e.{{ column.name }} as {{ meta_capi.type_double() }}) - cast(a.{{ column.name }} as {{ meta_capi.type_double() }}))
       <= 1e-9 * greatest(1, abs(cast(e.{{ column.name }} as {{ meta_capi.type_double() }})))
    {%- else %}
    or cast(e.{{ column.name }} as {{ dbt.type_string() }}) = cast(a.{{ column.name }} as {{ dbt.type_string() }})
    {%- endif %}
)
{%- endfor %}
{% endmacro %}
