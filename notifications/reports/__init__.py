"""The compliance report for people: the status grid page, trend and what-if charts, the CSV
download and the final-report email's parts, all plain functions of `workflow` report data."""
