# The ONNX export settings every mmadapt deploy config shares (mmdeploy 1.3.1's deploy-config format:
# onnx_config / codebase_config / backend_config). Opset 11, as mmdeploy's own ONNX Runtime configs;
# mmadapt exports with torch's TorchScript exporter (see mmadapt/deploy/compat.py).
onnx_config = dict(
    type='onnx', export_params=True, keep_initializers_as_inputs=False, opset_version=11,
    save_file='end2end.onnx', input_names=['input'], output_names=['output'], input_shape=None,
    optimize=True)
backend_config = dict(type='onnxruntime')
