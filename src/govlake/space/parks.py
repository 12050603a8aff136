"""The park inventory's vocabulary (building types, rents, 环评类别) and its generator, which lives
with the other source generators (govlake.generate.parks): the parks land as an extract and are
ingested like any source before the space tables read them."""

from govlake.generate.parks import EIA, N_PARKS, RENT, SCHEMA, SEED, STREET_RENT, TYPES, generate_parks

__all__ = ["EIA", "N_PARKS", "RENT", "SCHEMA", "SEED", "STREET_RENT", "TYPES", "generate_parks"]
