-- 诉求办理时效月报: the body is macros/petition_sla_report.sql, shared by the three reports.
{{ petition_sla_report("to_date(date_trunc('month', f.submit_time))") }}
