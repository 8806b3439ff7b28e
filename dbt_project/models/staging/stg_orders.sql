-- sample_shift_days: the days the sample orders move so that they end yesterday (honeyframe_dagster/sample_data.py).
select
    order_id,
    customer_id,
    cast(order_date as date) + {{ var('sample_shift_days', 0) }} as order_date,
    cast(amount as decimal(12, 2)) as amount,
    status
from {{ ref('raw_orders') }}
