"""mmdet's SSDHead, fixed for prediction under mmdet 3.3.0."""
from mmdet.models.dense_heads import SSDHead as _MMDetSSDHead

from mmadapt.registry import MODELS


@MODELS.register_module()
class SSDHead(_MMDetSSDHead):
    """``mmdet.SSDHead`` that can predict.

    mmdet 3.3.0's ``BaseDenseHead._predict_by_feat_single`` reads ``self.loss_cls`` (for v3det's
    custom losses), which ``SSDHead`` never defines: every SSD/SSDLite evaluation fails with
    ``AttributeError: 'SSDHead' object has no attribute 'loss_cls'``. SSD computes its
    classification loss inline, so there is no loss module to report: ``loss_cls`` is ``None``.
    Use as ``bbox_head=dict(type='mmadapt.SSDHead', ...)``; arguments are mmdet's.
    """

    loss_cls = None
