"""Petition signals: address standardisation, sensitive events, repeated and group petitions,
hot topics. Entry points: `govlake.signals.job.run_signals`, `govlake.signals.address.standardise`,
`govlake.signals.address.address_tree`, `govlake.signals.bench.bench_signals`."""
