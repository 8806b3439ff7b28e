select product_id, product_name, on_hand, reorder_point, cast(unit_cost as decimal(10, 2)) as unit_cost
from {{ ref('raw_products') }}
