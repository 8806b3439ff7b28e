-- Daily operations KPIs: order volume and the share of returns and cancellations.
select
    order_date,
    count(*) as orders,
    avg(case when status = 'returned' then 1.0 else 0.0 end) as return_rate,
    avg(case when status = 'cancelled' then 1.0 else 0.0 end) as cancel_rate
from {{ ref('stg_orders') }}
group by 1
