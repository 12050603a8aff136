-- 诉求办理时效周报（周一起）: the body is macros/petition_sla_report.sql, shared by the three reports.
{{ petition_sla_report("to_date(date_trunc('week', f.submit_time))") }}
