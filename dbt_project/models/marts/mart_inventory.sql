-- Products at or below their reorder point, with the value of their stock.
select
    product_id,
    product_name,
    on_hand,
    reorder_point,
    on_hand * unit_cost as stock_value,
    on_hand <= reorder_point as needs_reorder
from {{ ref('stg_products') }}
