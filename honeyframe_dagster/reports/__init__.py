"""Dashboard reports: time filters, card queries, HTML/SVG and PDF rendering, and the e-mail around them."""
