-- 诉求办理时效日报: the body is macros/petition_sla_report.sql, shared by the three reports.
{{ petition_sla_report("to_date(f.submit_time)") }}
