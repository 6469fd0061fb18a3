# Segmentors (mmseg: DeepLabv3, DeepLabv3+) to ONNX Runtime: segmentation logits at one fixed shape.
_base_ = ['./_onnx_.py']
codebase_config = dict(type='mmseg', task='Segmentation', with_argmax=False)
