"""产业空间撮合 (industrial space matching): a generated inventory of the district's parks
(gold.industrial_parks), space needs of growing enterprises of the released profile
(gold.space_needs), search, and matching ranked both ways with a transparent score
(gold.space_matches). See docs/space.md."""
