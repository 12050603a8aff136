"""智能分拨: petition text models (dispatch department, matter category, request type)."""

from govlake.petitions.category import CategoryMatcher, CategoryPrediction
from govlake.petitions.dispatch import BlendWeights, Department, Recommendation, blend
from govlake.petitions.scoring import recommend
from govlake.petitions.request_type import RequestType, classify_request_type

__all__ = [
    "BlendWeights", "CategoryMatcher", "CategoryPrediction", "Department", "Recommendation",
    "RequestType", "blend", "classify_request_type", "recommend",
]
