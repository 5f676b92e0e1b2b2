"""Neural networks of QTLens: the XResNet1d backbone, concept bottleneck and embedding models,
the black box, their losses, and the registry of variants (:mod:`models.nets.registry`)."""

from models.nets.backbone import BackboneConfig, XResNet1d
from models.nets.model import BlackBoxModel, ConceptModel, ModelConfig, ModelOutput, RiskModel
from models.nets.registry import VARIANTS, Variant, create_model, get_variant, variant_names

__all__ = [
    "VARIANTS",
    "BackboneConfig",
    "BlackBoxModel",
    "ConceptModel",
    "ModelConfig",
    "ModelOutput",
    "RiskModel",
    "Variant",
    "XResNet1d",
    "create_model",
    "get_variant",
    "variant_names",
]
