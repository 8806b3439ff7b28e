select cast(ticket_id as integer) as ticket_id, subject, body, cast(opened_at as timestamp) as opened_at
from {{ source('datasets', 'raw_tickets') }}
