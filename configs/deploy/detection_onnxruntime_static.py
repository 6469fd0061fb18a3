# Detectors (mmdet) to ONNX Runtime at one fixed input shape (the test pipeline's, or --shape).
_base_ = ['./detection_onnxruntime_dynamic.py']
onnx_config = dict(dynamic_axes=None)
