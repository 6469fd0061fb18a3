from .subset import IndexedSubset
from .shapes import (POSE_KEYPOINTS, SEG_CLASSES, SHAPE_CLASSES, ShapesArgumentError,
                     generate_command, make_shapes)

__all__ = ['IndexedSubset', 'make_shapes', 'generate_command', 'ShapesArgumentError', 'SHAPE_CLASSES', 'SEG_CLASSES',
           'POSE_KEYPOINTS']
