# Classifiers (mmpretrain) to ONNX Runtime: class scores, static input shape (the test pipeline's).
_base_ = ['./_onnx_.py']
codebase_config = dict(type='mmpretrain', task='Classification')
