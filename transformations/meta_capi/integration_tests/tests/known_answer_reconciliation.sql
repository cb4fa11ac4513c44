-- Hand-computed: integration_tests/dbt_fixtures/records.py (docstring) and, per KPI:
-- act_111 11-20 Purchase: delivery 3/4 = 0.75, loss (4-3)/4 = 0.25, coverage 5/4 = 1.25,
--   CPA 10000/5 = 2000 (attributed) and 10000/4 = 2500 (server), ROAS 14500/10000 = 1.45 and
--   15000/10000 = 1.5 (order-3's 20 USD is not summed into JPY: events_other_currency 1).
-- act_111 11-20 Lead: delivery 1/2, loss (2-1)/2, coverage 1/2, CPA 10000/1 and 10000/2.
-- act_111 11-19 Purchase: delivery 0/1, loss 1, coverage 0, CPA null (no attributed) and 3000/1,
--   ROAS 0 and 2000/3000.
-- act_222 11-20 Purchase: coverage 3/2, CPA 80/3 and 80/2, ROAS 180.5/80 and (100.01 + 50.50)/80.
-- act_222 11-20 AddToCart: 80/1, 20/80. act_222 11-21: spend only.
{{ expect_equal(ref('meta_capi__reconciliation'), ref('expected_reconciliation'), ['ad_account_id', 'event_date', 'event_name']) }}
