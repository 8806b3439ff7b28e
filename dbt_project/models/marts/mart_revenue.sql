-- Completed revenue per day and region: what the revenue dashboards read.
select
    o.order_date,
    c.region,
    count(*) as orders,
    sum(o.amount) as amount
from {{ ref('stg_orders') }} as o
join {{ ref('stg_customers') }} as c using (customer_id)
where o.status = 'completed'
group by 1, 2
