from .subset import IndexedSubset, SplitDataset, seeded_split
from .shapes import (POSE_KEYPOINTS, SEG_CLASSES, SHAPE_CLASSES, ShapesArgumentError,
                     generate_command, make_shapes)

__all__ = ['IndexedSubset', 'SplitDataset', 'seeded_split', 'make_shapes', 'generate_command', 'ShapesArgumentError', 'SHAPE_CLASSES', 'SEG_CLASSES',
           'POSE_KEYPOINTS']
