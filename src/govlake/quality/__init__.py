"""Great Expectations quality gates. Suites are generated from catalog/ into expectations/;
`gate` blocks a write when any expectation fails, `validate` only reports."""

from govlake.quality.gate import QualityGateFailed, ValidationResult, gate, validate
from govlake.quality.suites import ColumnSpec, suite_from_columns

__all__ = ["ColumnSpec", "QualityGateFailed", "ValidationResult", "gate", "suite_from_columns", "validate"]
