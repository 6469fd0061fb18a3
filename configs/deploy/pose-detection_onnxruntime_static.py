# Top-down pose estimators (mmpose: SimpleBaseline heatmaps) to ONNX Runtime at one fixed shape.
_base_ = ['./_onnx_.py']
codebase_config = dict(type='mmpose', task='PoseDetection', export_postprocess=False)
