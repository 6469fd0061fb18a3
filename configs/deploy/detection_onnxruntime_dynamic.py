# Detectors (mmdet: RetinaNet, SSDLite) to ONNX Runtime: boxes and scores after NMS (ONNX's own
# NonMaxSuppression), dynamic batch and image size.
_base_ = ['./_onnx_.py']
onnx_config = dict(
    output_names=['dets', 'labels'],
    dynamic_axes=dict(input={0: 'batch', 2: 'height', 3: 'width'}, dets={0: 'batch', 1: 'num_dets'},
                      labels={0: 'batch', 1: 'num_dets'}))
codebase_config = dict(
    type='mmdet', task='ObjectDetection', model_type='end2end',
    post_processing=dict(score_threshold=0.05, confidence_threshold=0.005, iou_threshold=0.5,
                         max_output_boxes_per_class=200, pre_top_k=5000, keep_top_k=100,
                         background_label_id=-1))
