"""Built-in data: a deterministic generator of small but real vision tasks ("shapes").

Images show shapes of several classes (circle, square, triangle, star) with random colour, scale,
rotation and position on textured backgrounds, partly occluding each other and partly hidden by
distractor bars. Five tasks are written in the formats the stock OpenMMLab datasets read unchanged:

===========  ==========================================================  ==========================
task         files                                                       read by
===========  ==========================================================  ==========================
``det``      ``images/{train,val}/*.png``, ``annotations/{train,val}.json``  mmdet ``CocoDataset``
             (COCO instances: visible-pixel boxes, RLE masks)
``seg``      ``img_dir/{train,val}/*.png``, ``ann_dir/{train,val}/*.png``    mmseg ``BaseSegDataset``
             (label maps: 0 background, 1..4 the shape classes)
``pose``     ``images/{train,val}/*.png``, ``annotations/{train,val}.json``  mmpose ``CocoDataset``
             (COCO keypoints of stick figures, 7 keypoints)
``cls``      ``{train,val}/<class>/*.png`` and ``meta/{train,val}.txt``      mmpretrain ``CustomDataset``
``depth``    ``images/{train,test}/*.jpg``, ``annotations/{train,test}/*.png``  mmseg ``NYUDataset``
             (NYU Depth V2's layout: the val images go to ``test``; depth
             maps are uint16 PNGs in millimetres, ``DEPTH_SCALE``; scene
             geometry in ``meta/{train,test}.json``)
===========  ==========================================================  ==========================

Depth scenes (``depth``): a pinhole camera (focal length = image side) looks at a tilted plane (a
floor or wall whose near edge, at 3.5-5 m, lies within 60 degrees of the image bottom; far edge at
6.5-9.5 m) textured with a checkerboard that shrinks with distance, and at 1-4 flat shapes (fewer
where one finds no place in 30 tries) facing the camera at 1-4.5 m, each drawn at a radius of
``size * R / Z`` px for its real radius R (0.25-0.35 m) and depth Z, and at least 0.25 m nearer than
the plane under it. Nearer shapes are painted over farther ones, and every pixel is shaded by
``exp(-0.1 Z)`` (darker with distance), so depth can be read from size, texture scale and shading.
``meta/{split}.json`` lists each image's plane (``near``, ``far``, ``angle``; :func:`plane_depth`
gives its depth map) and objects, farthest first (class, depth, radii, centre, rotation ``theta``,
``aspect``, visible pixels).

Every image is drawn from its own random generator seeded by ``(seed, split, index)``, so a data set
is a pure function of the arguments: the same call writes byte-identical files, and asking for more
images keeps the first ones unchanged.

Controlled difficulty (``cls`` only, ``difficulty='mixed'``, for input-dependent networks such as
DS-Net's gate): every image is drawn *easy* or *hard* with probability 1/2. An easy image holds one
large shape (radius 0.32-0.40 of the side, wholly inside the frame) in a colour far from a calmed
background, with nothing over or around it; a hard image holds a small shape (radius 0.10-0.13 of the
side, 4-5.5 px at 32 px: about 1/3 of the easy one) in a colour close to a fully textured background
(50-80 per channel), partly hidden by a bar crossing it, among 2-4 short distractor bars. Which one each image is goes to
``meta/difficulty_{split}.txt`` (see :func:`read_difficulty`); the annotation file and the class
folders are the same as without it, so mmpretrain reads the set unchanged. Without ``difficulty``
the output is exactly that of earlier versions.
"""
import json
import math
import os
import os.path as osp
import shutil
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw

from mmadapt.utils.fileio import make_temp_dir

SHAPE_CLASSES: Tuple[str, ...] = ('circle', 'square', 'triangle', 'star')
SEG_CLASSES: Tuple[str, ...] = ('background', ) + SHAPE_CLASSES
SEG_PALETTE: Tuple[Tuple[int, int, int], ...] = ((0, 0, 0), (220, 20, 60), (0, 128, 255),
                                                   (255, 200, 0), (60, 180, 75))
POSE_KEYPOINTS: Tuple[str, ...] = ('head', 'neck', 'hip', 'left_hand', 'right_hand', 'left_foot',
                                   'right_foot')
# limbs of the stick figure, as keypoint index pairs (also the skeleton for visualisation)
POSE_SKELETON: Tuple[Tuple[int, int], ...] = ((0, 1), (1, 2), (1, 3), (1, 4), (2, 5), (2, 6))
TASKS: Tuple[str, ...] = ('det', 'seg', 'pose', 'cls', 'depth')
SPLITS: Tuple[str, ...] = ('train', 'val')
# values of ``difficulty`` (classification only); None is the default scene of every version
DIFFICULTIES: Tuple[str, ...] = ('mixed', )
DIFFICULTY_LEVELS: Tuple[str, ...] = ('easy', 'hard')
GENERATOR_VERSION = 1

MIN_SIZE = 32  # the smallest object is 4 px in radius; below 32 px shapes are no longer legible
MIN_VISIBLE = 0.4  # an object keeps at least this share of its pixels visible
# the two kinds of image of difficulty='mixed' (radii are shares of the image side)
_EASY_RADIUS = (0.32, 0.40)
_EASY_TEXTURE = 0.35  # the background's deviation from its mean is scaled by this
_HARD_RADIUS = (0.10, 0.13)
_HARD_MIN_RADIUS = (4.0, 5.5)  # px: floors of the two ends of _HARD_RADIUS (legibility at 32 px)
_HARD_CONTRAST = (50.0, 80.0)  # per channel, away from the background under the shape
_HARD_CLUTTER = (2, 4)  # distractor bars, inclusive
_HARD_MIN_VISIBLE = 0.6  # share of the shape the bar across it leaves visible
# (tuned at 32 px: with a per-channel contrast of 25-45 even a wide CNN stays at chance on hard
# images; with 50-80 a width-32 six-layer CNN reaches ~0.7 on them, a width-4 one stays near 0.25,
# and both get every easy image right)

# the depth task (``depth``): units and folders of mmseg's NYUDataset, and the scene's geometry
DEPTH_SCALE = 1000  # depth PNG values per metre (uint16 millimetres, as NYU Depth V2 in mmseg)
DEPTH_SPLIT_DIRS: Dict[str, str] = {'train': 'train', 'val': 'test'}  # NYU's folder names
_DEPTH_PLANE_NEAR = (3.5, 5.0)  # m, the near edge of the background plane
_DEPTH_PLANE_FAR = (6.5, 9.5)  # m, its far edge
_DEPTH_TILT = math.pi / 3  # the near edge is within this angle of the image bottom
_DEPTH_CHECKER = (0.45, 0.6)  # m, the side of the plane's checker cells
_DEPTH_OBJECT_RANGE = (1.0, 4.5)  # m, depths of the shapes
_DEPTH_OBJECT_RADIUS = (0.25, 0.35)  # m, their real radius (drawn at size * R / Z px)
_DEPTH_MIN_RADIUS_PX = 4.0  # px: the smallest drawn radius
_DEPTH_MARGIN = 0.25  # m: a shape is at least this much nearer than the plane under it
_DEPTH_FALLOFF = 0.1  # per metre: brightness factor exp(-0.1 depth)


class ShapesArgumentError(ValueError):
    """Raised for arguments that cannot describe a shapes data set."""


def check_arguments(task: str, num_train: int, num_val: int, size: int,
                    difficulty: Optional[str] = None) -> None:
    """Validate generator arguments, raising :class:`ShapesArgumentError` naming the bad one."""
    if task not in TASKS:
        raise ShapesArgumentError(f'unknown task {task!r}; allowed: {", ".join(TASKS)}')
    if difficulty is not None:
        if difficulty not in DIFFICULTIES:
            raise ShapesArgumentError(
                f'unknown difficulty {difficulty!r} (--difficulty); allowed: '
                f'{", ".join(DIFFICULTIES)}, or none for the default scenes')
        if task != 'cls':
            raise ShapesArgumentError(
                f'difficulty {difficulty!r} (--difficulty) applies to the classification task only '
                f'(--task cls), not to task {task!r}')
    for name, value in (('num_train', num_train), ('num_val', num_val)):
        if not isinstance(value, (int, np.integer)) or value < 0:
            raise ShapesArgumentError(f'{name} must be a non-negative integer, got {value!r}')
    if num_train + num_val == 0:
        raise ShapesArgumentError('num_train and num_val are both 0: nothing to generate')
    if not isinstance(size, (int, np.integer)) or size < MIN_SIZE:
        raise ShapesArgumentError(
            f'size {size!r} is too small for the objects: images must be at least {MIN_SIZE} px '
            f'(the smallest shape has a radius of 4 px and must fit with its occluders)')
    if size > 4096:
        raise ShapesArgumentError(f'size {size} is larger than the supported 4096 px')


# --------------------------------------------------------------------------------------------
# drawing
# --------------------------------------------------------------------------------------------
def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Value noise in [0, 1] of shape (size, size): a coarse random grid resized bilinearly."""
    grid = (rng.random((cells, cells)) * 255).astype(np.uint8)
    img = Image.fromarray(grid, mode='L').resize((size, size), Image.BILINEAR)
    return np.asarray(img, dtype=np.float32) / 255.0


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A textured background, float32 (size, size, 3) in [0, 255]."""
    c0 = rng.uniform(20, 235, 3)
    c1 = np.clip(c0 + rng.uniform(-70, 70, 3), 0, 255)
    ang = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    t = (xx * math.cos(ang) + yy * math.sin(ang))
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    img = c0[None, None] * (1 - t[..., None]) + c1[None, None] * t[..., None]
    kind = rng.integers(4)
    amp = rng.uniform(10, 35)
    if kind == 0:  # blotchy noise
        tex = _smooth_noise(rng, size, int(rng.integers(3, 9))) - 0.5
    elif kind == 1:  # stripes
        period = rng.uniform(0.06, 0.2)
        a2 = rng.uniform(0, math.pi)
        tex = 0.5 * np.sin(2 * math.pi * (xx * math.cos(a2) + yy * math.sin(a2)) / period)
    elif kind == 2:  # checkerboard
        n = int(rng.integers(3, 9))
        tex = (((xx * n).astype(int) + (yy * n).astype(int)) % 2) - 0.5
    else:  # dots
        tex = (_smooth_noise(rng, size, int(rng.integers(8, 16))) > 0.6) - 0.5
    img = img + amp * np.asarray(tex, np.float32)[..., None] * rng.uniform(0.5, 1.0, 3)[None, None]
    img = img + rng.normal(0, 4, img.shape)
    return img.astype(np.float32)


def _polygon(cx: float, cy: float, r: float, theta: float, n: int,
             inner: Optional[float] = None) -> List[Tuple[float, float]]:
    pts = []
    steps = n * 2 if inner else n
    for k in range(steps):
        rad = r if (inner is None or k % 2 == 0) else r * inner
        a = theta + 2 * math.pi * k / steps
        pts.append((cx + rad * math.cos(a), cy + rad * math.sin(a)))
    return pts


def _shape_mask(size: int, cls: str, cx: float, cy: float, r: float, theta: float,
                aspect: float) -> np.ndarray:
    """Boolean (size, size) mask of one shape."""
    img = Image.new('L', (size, size), 0)
    draw = ImageDraw.Draw(img)
    if cls == 'circle':
        rx, ry = r * aspect, r / aspect
        draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=255)
    elif cls == 'square':
        draw.polygon(_polygon(cx, cy, r, theta + math.pi / 4, 4), fill=255)
    elif cls == 'triangle':
        draw.polygon(_polygon(cx, cy, r, theta - math.pi / 2, 3), fill=255)
    elif cls == 'star':
        draw.polygon(_polygon(cx, cy, r, theta - math.pi / 2, 5, inner=0.45), fill=255)
    else:  # pragma: no cover - guarded by SHAPE_CLASSES
        raise ValueError(cls)
    return np.asarray(img) > 127


def _occluder_mask(rng: np.random.Generator, size: int) -> np.ndarray:
    """A distractor bar (not a class): a thick rotated line segment."""
    img = Image.new('L', (size, size), 0)
    draw = ImageDraw.Draw(img)
    x0, y0 = rng.uniform(0, size, 2)
    ang = rng.uniform(0, math.pi)
    length = rng.uniform(0.3, 0.8) * size
    x1, y1 = x0 + length * math.cos(ang), y0 + length * math.sin(ang)
    draw.line([(x0, y0), (x1, y1)], fill=255, width=max(2, int(rng.uniform(0.03, 0.07) * size)))
    return np.asarray(img) > 127


def _contrasting_colour(rng: np.random.Generator, ref: np.ndarray) -> np.ndarray:
    for _ in range(20):
        colour = rng.uniform(0, 255, 3)
        if np.abs(colour - ref).sum() > 120:
            return colour
    return 255.0 - ref


def _paint(img: np.ndarray, mask: np.ndarray, colour: np.ndarray, rng: np.random.Generator) -> None:
    shade = rng.normal(0, 6, (int(mask.sum()), 3))
    img[mask] = colour[None] + shade


class _Layers:
    """Paints objects one after another and tracks what stays visible of each."""

    def __init__(self, size: int):
        self.size = size
        self.owner = np.full((size, size), -1, np.int32)  # index of the object on top, -1 none
        self.full: List[np.ndarray] = []
        self.occluder = np.zeros((size, size), bool)

    def visible(self, k: int, owner: Optional[np.ndarray] = None) -> np.ndarray:
        return (self.owner if owner is None else owner) == k

    def try_add(self, mask: np.ndarray, is_object: bool) -> bool:
        """Place ``mask`` on top if every object keeps ``MIN_VISIBLE`` of its pixels."""
        if mask.sum() < 12:
            return False
        owner = self.owner.copy()
        owner[mask] = len(self.full) if is_object else -2
        for k, full in enumerate(self.full + ([mask] if is_object else [])):
            if (owner == k).sum() < MIN_VISIBLE * max(full.sum(), 1):
                return False
        self.owner = owner
        if is_object:
            self.full.append(mask)
        else:
            self.occluder |= mask
        return True


def _maybe_occlude(rng: np.random.Generator, img: np.ndarray, layers: _Layers) -> None:
    """With probability 0.3, paint a distractor bar over what is drawn so far."""
    if rng.random() < 0.3:
        for _ in range(10):
            occ = _occluder_mask(rng, layers.size)
            if layers.try_add(occ, False):
                _paint(img, occ, rng.uniform(0, 255, 3), rng)
                break


def _bar_mask(size: int, x: float, y: float, ang: float, length: float, width: int) -> np.ndarray:
    """A bar of ``length`` and ``width`` pixels centred on (x, y) at angle ``ang``."""
    img = Image.new('L', (size, size), 0)
    draw = ImageDraw.Draw(img)
    dx, dy = 0.5 * length * math.cos(ang), 0.5 * length * math.sin(ang)
    draw.line([(x - dx, y - dy), (x + dx, y + dy)], fill=255, width=width)
    return np.asarray(img) > 127


def _cls_scene(rng: np.random.Generator, size: int, cls_idx: int, hard: bool):
    """One shape of class ``cls_idx`` at a controlled difficulty (``difficulty='mixed'``).

    Easy: a large shape (radius 0.32-0.40 of the side, wholly in the frame, aspect 0.85-1.18) in a
    colour at least 0.8 of the way to the far end of every channel from the background under it
    (channel distance >= ~100), on the usual background with its texture scaled to 0.35; nothing
    else. Hard: a small shape (radius 0.10-0.13 of the side, floored to 4-5.5 px) in a colour 50-80
    per channel from the background under it, on the full-texture background, among 2-4 short
    distractor bars (drawn first) and partly hidden by one bar across it (it keeps at least
    ``_HARD_MIN_VISIBLE`` of its pixels).

    Returns:
        (image uint8 (size, size, 3), visible mask of the shape, its whole mask), the masks
        (size, size) bool.
    """
    img = _background(rng, size)
    if not hard:
        mean = img.mean((0, 1), keepdims=True)
        img = mean + _EASY_TEXTURE * (img - mean)
    else:
        for _ in range(int(rng.integers(_HARD_CLUTTER[0], _HARD_CLUTTER[1] + 1))):
            bar = _bar_mask(size, *rng.uniform(0, size, 2), rng.uniform(0, math.pi),
                            rng.uniform(0.15, 0.4) * size,
                            max(2, int(rng.uniform(0.03, 0.06) * size)))
            if bar.any():
                _paint(img, bar, rng.uniform(0, 255, 3), rng)
    layers = _Layers(size)
    cls = SHAPE_CLASSES[cls_idx]
    mask = None
    for _ in range(30):
        if hard:
            r = rng.uniform(max(_HARD_MIN_RADIUS[0], _HARD_RADIUS[0] * size),
                            max(_HARD_MIN_RADIUS[1], _HARD_RADIUS[1] * size))
            aspect = rng.uniform(0.75, 1.33)
        else:
            r = rng.uniform(_EASY_RADIUS[0] * size, _EASY_RADIUS[1] * size)
            aspect = rng.uniform(0.85, 1.18)
        reach = r * max(aspect, 1 / aspect) if cls == 'circle' else r
        lo = min(reach + 1, 0.5 * size)
        cx, cy = rng.uniform(lo, size - lo, 2)
        candidate = _shape_mask(size, cls, cx, cy, r, rng.uniform(0, 2 * math.pi), aspect)
        if layers.try_add(candidate, True):
            mask = candidate
            break
    if mask is None:  # pragma: no cover - a shape of radius >= 4 px inside the frame always fits
        raise RuntimeError(f'could not place a {cls} in a {size} px image')
    ref = img[mask].mean(0)
    if hard:
        colour = ref + np.where(ref < 128, 1.0, -1.0) * rng.uniform(*_HARD_CONTRAST, 3)
    else:
        far = np.where(ref < 128, 255.0, 0.0)
        colour = far + (ref - far) * rng.uniform(0, 0.2, 3)
    _paint(img, mask, colour, rng)
    if hard:  # one bar across the shape, hiding part of it
        width = max(2, int(rng.uniform(0.03, 0.06) * size))
        for _ in range(20):
            ys, xs = np.nonzero(layers.visible(0))
            k = int(rng.integers(len(xs)))
            bar = _bar_mask(size, xs[k] + 0.5, ys[k] + 0.5, rng.uniform(0, math.pi),
                            rng.uniform(0.3, 0.6) * size, width)
            if (bar & mask).sum() > (1 - _HARD_MIN_VISIBLE) * mask.sum():
                continue  # hides too much of the shape
            if layers.try_add(bar, False):
                _paint(img, bar, rng.uniform(0, 255, 3), rng)
                break
    return np.clip(img, 0, 255).astype(np.uint8), layers.visible(0), mask


def _rle(mask: np.ndarray) -> Dict:
    from pycocotools import mask as mask_util
    rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    return rle


def _bbox(mask: np.ndarray) -> List[float]:
    ys, xs = np.nonzero(mask)
    x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    return [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]


def _shape_scene(rng: np.random.Generator, size: int, num_objects: int,
                 classes: Optional[Sequence[int]] = None):
    """Draw a scene of shapes. Returns the image and per-object (class index, visible mask)."""
    img = _background(rng, size)
    layers = _Layers(size)
    r_lo, r_hi = max(4.0, 0.08 * size), 0.25 * size
    objects = []
    want = list(classes) if classes is not None else [
        int(rng.integers(len(SHAPE_CLASSES))) for _ in range(num_objects)]
    for cls_idx in want:
        for _ in range(30):
            r = rng.uniform(r_lo, r_hi) if classes is None else rng.uniform(
                max(r_lo, 0.15 * size), 0.35 * size)
            cx, cy = rng.uniform(0.5 * r, size - 0.5 * r, 2)
            mask = _shape_mask(size, SHAPE_CLASSES[cls_idx], cx, cy, r, rng.uniform(0, 2 * math.pi),
                               rng.uniform(0.75, 1.33))
            if layers.try_add(mask, True):
                ref = img[mask].mean(0)
                _paint(img, mask, _contrasting_colour(rng, ref), rng)
                objects.append(cls_idx)
                break
        _maybe_occlude(rng, img, layers)
    vis = [(c, layers.visible(k)) for k, c in enumerate(objects)]
    return np.clip(img, 0, 255).astype(np.uint8), vis


def _stick_figure(rng: np.random.Generator, size: int):
    """Random stick-figure geometry: keypoints (7, 2) and the mask drawn from them."""
    h = rng.uniform(0.4, 0.8) * size
    cx, cy = rng.uniform(0.25 * h, size - 0.25 * h), rng.uniform(0.4 * h, size - 0.4 * h)
    tilt = rng.uniform(-math.pi / 6, math.pi / 6)
    up = np.array([math.sin(tilt), -math.cos(tilt)])
    side = np.array([-up[1], up[0]])  # the figure's left, in image coordinates
    centre = np.array([cx, cy])
    neck = centre + up * 0.22 * h
    head = neck + up * 0.16 * h
    hip = centre - up * 0.12 * h

    def limb(origin, length, base, spread):
        a = base + rng.uniform(-spread, spread)
        d = side * math.cos(a) + up * math.sin(a)
        return origin + d * length

    l_hand = limb(neck, rng.uniform(0.25, 0.35) * h, 0.0, math.pi / 3)
    r_hand = limb(neck, rng.uniform(0.25, 0.35) * h, math.pi, math.pi / 3)
    l_foot = limb(hip, rng.uniform(0.3, 0.4) * h, -math.pi / 2 + 0.5, 0.35)
    r_foot = limb(hip, rng.uniform(0.3, 0.4) * h, -math.pi / 2 - 0.5, 0.35)
    kpts = np.stack([head, neck, hip, l_hand, r_hand, l_foot, r_foot])
    img = Image.new('L', (size, size), 0)
    draw = ImageDraw.Draw(img)
    width = max(2, int(0.06 * h))
    for a, b in POSE_SKELETON:
        if a == 0:
            continue  # the head is a disc, drawn below
        draw.line([tuple(kpts[a]), tuple(kpts[b])], fill=255, width=width)
    hr = 0.1 * h
    draw.ellipse([head[0] - hr, head[1] - hr, head[0] + hr, head[1] + hr], fill=255)
    for p in kpts[1:]:  # round joints
        draw.ellipse([p[0] - width / 2, p[1] - width / 2, p[0] + width / 2, p[1] + width / 2],
                     fill=255)
    return kpts, np.asarray(img) > 127


def _pose_scene(rng: np.random.Generator, size: int, num_figures: int):
    img = _background(rng, size)
    layers = _Layers(size)
    figures = []
    for _ in range(num_figures):
        for _ in range(30):
            kpts, mask = _stick_figure(rng, size)
            if layers.try_add(mask, True):
                _paint(img, mask, _contrasting_colour(rng, img[mask].mean(0)), rng)
                figures.append(kpts)
                break
        _maybe_occlude(rng, img, layers)
    out = []
    for k, kpts in enumerate(figures):
        full = layers.full[k]
        vis_mask = layers.visible(k)
        kps = []
        for x, y in kpts:
            xi, yi = int(round(x)), int(round(y))
            if not (0 <= x < size and 0 <= y < size):
                v = 0
            else:
                xi, yi = min(max(xi, 0), size - 1), min(max(yi, 0), size - 1)
                v = 2 if vis_mask[max(yi - 1, 0):yi + 2, max(xi - 1, 0):xi + 2].any() else 1
            kps.append((float(x), float(y), v) if v else (0.0, 0.0, 0))
        out.append((kps, full, vis_mask))
    return np.clip(img, 0, 255).astype(np.uint8), out


# --------------------------------------------------------------------------------------------
# depth scenes
# --------------------------------------------------------------------------------------------
def plane_depth(size: int, near: float, far: float, angle: float, supersample: int = 1) -> np.ndarray:
    """Depth in metres of the background plane of a depth scene at every pixel centre.

    The camera is a pinhole with a focal length of ``size`` px and the principal point at the image
    centre. The plane's inverse depth is affine in the image coordinates (as that of any plane
    seen through a pinhole camera): ``near`` at the image's outermost point (edge or corner) in
    direction ``angle`` (radians, image axes: 0 points right, pi/2 down), ``far`` at the opposite
    one; pixel centres lie strictly between.

    Args:
        size: image side in pixels.
        near, far: depth (m) at the two edges.
        angle: direction of the near edge.
        supersample: evaluate on a grid ``supersample`` times finer (the sub-pixel centres).

    Returns:
        float64 array (size * supersample, size * supersample).
    """
    n = size * supersample
    p = (np.arange(n, dtype=np.float64) + 0.5) / n - 0.5  # normalised image coordinates (x / f)
    yy, xx = np.meshgrid(p, p, indexing='ij')
    cos, sin = math.cos(angle), math.sin(angle)
    t = (xx * cos + yy * sin) / (0.5 * (abs(cos) + abs(sin)))  # -1 at the far edge, 1 at the near one
    return 1.0 / (0.5 * (1 + t) / near + 0.5 * (1 - t) / far)


def depth_shading(depth: np.ndarray) -> np.ndarray:
    """Brightness factor of a surface at ``depth`` metres (darker with distance): exp(-0.1 depth)."""
    return np.exp(-_DEPTH_FALLOFF * depth)


def _plane_albedo(rng: np.random.Generator, size: int, near: float, far: float,
                  angle: float) -> np.ndarray:
    """The background plane's colours: a checkerboard of cubes of ``_DEPTH_CHECKER`` m cut by the plane,
    seen in perspective (cells shrink with distance), 2x2 supersampled. float64 (size, size, 3)."""
    cell = rng.uniform(*_DEPTH_CHECKER)
    c0 = rng.uniform(110, 250, 3)
    c1 = c0 * rng.uniform(0.45, 0.7)
    z = plane_depth(size, near, far, angle, supersample=2)
    p = (np.arange(2 * size, dtype=np.float64) + 0.5) / (2 * size) - 0.5
    yy, xx = np.meshgrid(p, p, indexing='ij')
    parity = (np.floor(xx * z / cell) + np.floor(yy * z / cell) + np.floor(z / cell)) % 2
    frac = parity.reshape(size, 2, size, 2).mean((1, 3))
    return c1[None, None] + (c0 - c1)[None, None] * frac[..., None]


def _depth_scene(rng: np.random.Generator, size: int, num_objects: int):
    """A depth scene: shapes at known depths in front of a tilted textured plane.

    The plane's near edge (3.5-5 m) lies within 60 degrees of the image bottom (a floor or a wall
    seen from a camera pitched down), its far edge at 6.5-9.5 m. Each shape is a flat object facing
    the camera with a radius of 0.25-0.35 m at 1-4.5 m, drawn with a radius of ``size * R / Z`` px
    (at least 4 px: far objects are brought nearer on small images), at least ``_DEPTH_MARGIN``
    nearer than the plane under it; shapes are painted from the farthest to the nearest, each
    keeping ``MIN_VISIBLE`` of its pixels. Every pixel's colour is its albedo times
    :func:`depth_shading` of its depth, plus a little noise.

    Returns:
        (image uint8 (size, size, 3), depth float64 (size, size) in metres, plane dict, object list)
    """
    near = rng.uniform(*_DEPTH_PLANE_NEAR)
    far = rng.uniform(*_DEPTH_PLANE_FAR)
    angle = math.pi / 2 + rng.uniform(-_DEPTH_TILT, _DEPTH_TILT)
    background = plane_depth(size, near, far, angle)
    depth = background.copy()
    albedo = _plane_albedo(rng, size, near, far, angle)
    plane = dict(near=float(near), far=float(far), angle=float(angle))
    # sizes first, then depths: the smallest shape must stay legible (radius >= 4 px)
    wanted = []
    for _ in range(num_objects):
        radius = rng.uniform(*_DEPTH_OBJECT_RADIUS)
        z_max = min(_DEPTH_OBJECT_RANGE[1], radius * size / _DEPTH_MIN_RADIUS_PX)
        wanted.append((float(rng.uniform(_DEPTH_OBJECT_RANGE[0], z_max)), radius,
                       int(rng.integers(len(SHAPE_CLASSES)))))
    wanted.sort(key=lambda w: -w[0])  # the farthest first: nearer shapes are painted over it
    layers = _Layers(size)
    objects = []
    for z, radius, cls_idx in wanted:
        r = size * radius / z
        for _ in range(30):
            cx, cy = rng.uniform(0.5 * r, size - 0.5 * r, 2)
            theta = rng.uniform(0, 2 * math.pi)
            aspect = rng.uniform(0.75, 1.33)
            mask = _shape_mask(size, SHAPE_CLASSES[cls_idx], cx, cy, r, theta, aspect)
            if mask.sum() < 12 or background[mask].min() < z + _DEPTH_MARGIN:
                continue
            if layers.try_add(mask, True):
                ref = albedo[mask].mean(0)
                colour = rng.uniform(60, 255, 3)
                for _ in range(20):
                    if np.abs(colour - ref).sum() > 120:
                        break
                    colour = rng.uniform(60, 255, 3)
                albedo[mask] = colour[None] + rng.normal(0, 6, (int(mask.sum()), 3))
                depth[mask] = z
                objects.append(dict(cls=SHAPE_CLASSES[cls_idx], depth=z, radius_m=float(radius),
                                    radius_px=float(r), centre=[float(cx), float(cy)], theta=float(theta),
                                    aspect=float(aspect)))
                break
    img = albedo * depth_shading(depth)[..., None] + rng.normal(0, 3, albedo.shape)
    for k, obj in enumerate(objects):
        obj['visible_pixels'] = int(layers.visible(k).sum())
    return np.clip(img, 0, 255).astype(np.uint8), depth, plane, objects


# --------------------------------------------------------------------------------------------
# writers
# --------------------------------------------------------------------------------------------
def _rng(seed: int, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, SPLITS.index(split), index])


def _save_png(array: np.ndarray, path: str) -> None:
    Image.fromarray(array).save(path, format='PNG', optimize=False)


def _coco_header(categories: List[Dict]) -> Dict:
    return dict(
        info=dict(description='mmadapt shapes', version=str(GENERATOR_VERSION)),
        licenses=[], images=[], annotations=[], categories=categories)


def _write_det(out: str, split: str, num: int, size: int, seed: int) -> None:
    os.makedirs(osp.join(out, 'images', split), exist_ok=True)
    coco = _coco_header([dict(id=i + 1, name=n, supercategory='shape')
                         for i, n in enumerate(SHAPE_CLASSES)])
    ann_id = 1
    for i in range(num):
        rng = _rng(seed, split, i)
        name = f'{i:06d}.png'
        img, objects = _shape_scene(rng, size, int(rng.integers(1, 5)))
        _save_png(img, osp.join(out, 'images', split, name))
        coco['images'].append(dict(id=i + 1, file_name=name, width=size, height=size))
        for cls_idx, vis in objects:
            coco['annotations'].append(dict(
                id=ann_id, image_id=i + 1, category_id=cls_idx + 1, bbox=_bbox(vis),
                area=float(vis.sum()), iscrowd=0, segmentation=_rle(vis)))
            ann_id += 1
    _dump_json(coco, osp.join(out, 'annotations', f'{split}.json'))


def _write_seg(out: str, split: str, num: int, size: int, seed: int) -> None:
    os.makedirs(osp.join(out, 'img_dir', split), exist_ok=True)
    os.makedirs(osp.join(out, 'ann_dir', split), exist_ok=True)
    for i in range(num):
        rng = _rng(seed, split, i)
        img, objects = _shape_scene(rng, size, int(rng.integers(1, 5)))
        label = np.zeros((size, size), np.uint8)
        for cls_idx, vis in objects:
            label[vis] = cls_idx + 1
        _save_png(img, osp.join(out, 'img_dir', split, f'{i:06d}.png'))
        _save_png(label, osp.join(out, 'ann_dir', split, f'{i:06d}.png'))


def _write_pose(out: str, split: str, num: int, size: int, seed: int) -> None:
    os.makedirs(osp.join(out, 'images', split), exist_ok=True)
    coco = _coco_header([dict(id=1, name='figure', supercategory='figure',
                              keypoints=list(POSE_KEYPOINTS),
                              skeleton=[[a + 1, b + 1] for a, b in POSE_SKELETON])])
    ann_id = 1
    for i in range(num):
        rng = _rng(seed, split, i)
        name = f'{i:06d}.png'
        img, figures = _pose_scene(rng, size, int(rng.integers(1, 3)))
        _save_png(img, osp.join(out, 'images', split, name))
        coco['images'].append(dict(id=i + 1, file_name=name, width=size, height=size))
        for kps, full, vis in figures:
            flat = [v for kp in kps for v in kp]
            coco['annotations'].append(dict(
                id=ann_id, image_id=i + 1, category_id=1, bbox=_bbox(full), area=float(full.sum()),
                iscrowd=0, num_keypoints=int(sum(1 for kp in kps if kp[2] > 0)),
                keypoints=[float(v) if j % 3 < 2 else int(v) for j, v in enumerate(flat)],
                segmentation=_rle(vis)))
            ann_id += 1
    _dump_json(coco, osp.join(out, 'annotations', f'{split}.json'))


def _write_cls(out: str, split: str, num: int, size: int, seed: int,
               difficulty: Optional[str] = None) -> None:
    lines, levels = [], []
    for name in SHAPE_CLASSES:
        os.makedirs(osp.join(out, split, name), exist_ok=True)
    for i in range(num):
        rng = _rng(seed, split, i)
        label = i % len(SHAPE_CLASSES)  # balanced classes
        if difficulty is None:
            img, _ = _shape_scene(rng, size, 1, classes=[label])
        else:  # 'mixed'
            hard = bool(rng.random() < 0.5)
            img, _, _ = _cls_scene(rng, size, label, hard)
        rel = f'{split}/{SHAPE_CLASSES[label]}/{i:06d}.png'
        _save_png(img, osp.join(out, rel))
        lines.append(f'{SHAPE_CLASSES[label]}/{i:06d}.png {label}')
        if difficulty is not None:
            levels.append(f'{SHAPE_CLASSES[label]}/{i:06d}.png {"hard" if hard else "easy"}')
    os.makedirs(osp.join(out, 'meta'), exist_ok=True)
    with open(osp.join(out, 'meta', f'{split}.txt'), 'w', encoding='utf-8') as f:
        f.write('\n'.join(lines) + ('\n' if lines else ''))
    if difficulty is not None:
        with open(osp.join(out, 'meta', f'difficulty_{split}.txt'), 'w', encoding='utf-8') as f:
            f.write('\n'.join(levels) + ('\n' if levels else ''))


def _write_depth(out: str, split: str, num: int, size: int, seed: int) -> None:
    folder = DEPTH_SPLIT_DIRS[split]
    os.makedirs(osp.join(out, 'images', folder), exist_ok=True)
    os.makedirs(osp.join(out, 'annotations', folder), exist_ok=True)
    records = []
    for i in range(num):
        rng = _rng(seed, split, i)
        img, depth, plane, objects = _depth_scene(rng, size, int(rng.integers(1, 5)))
        name = f'{i:06d}'
        # JPEG as NYU's images (mmseg's NYUDataset default suffix); 4:4:4 keeps the colours sharp
        Image.fromarray(img).save(osp.join(out, 'images', folder, f'{name}.jpg'), format='JPEG', quality=95,
                                  subsampling=0)
        millimetres = np.round(depth * DEPTH_SCALE).astype(np.uint16)  # 16-bit PNG, as NYU's depth maps
        _save_png(millimetres, osp.join(out, 'annotations', folder, f'{name}.png'))
        records.append(dict(file_name=f'{name}.jpg', plane=plane, objects=objects))
    _dump_json(dict(split=folder, depth_scale=DEPTH_SCALE, images=records),
               osp.join(out, 'meta', f'{folder}.json'))


def read_difficulty(data_root: str, split: str) -> List[str]:
    """The difficulty of every image of a ``difficulty='mixed'`` classification set.

    ``meta/difficulty_{split}.txt`` holds one line per image, ``<class>/<index>.png easy|hard``, in
    the order of the annotation file ``meta/{split}.txt`` (so of mmpretrain's ``CustomDataset``
    with that ``ann_file``: entry ``i`` belongs to sample ``i``).

    Args:
        data_root: the folder make_shapes wrote.
        split: ``'train'`` or ``'val'``.

    Returns:
        list of ``'easy'`` / ``'hard'``, one per image in annotation order.

    Raises:
        FileNotFoundError: no difficulty file (the set was written without ``difficulty``).
        ValueError: the file is malformed or its images differ from the annotation file's.
    """
    path = osp.join(data_root, 'meta', f'difficulty_{split}.txt')
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} not found: the shapes set in {data_root} was written without '
                                'difficulty; generate it with --task cls --difficulty mixed')
    with open(path, encoding='utf-8') as f:
        rows = [line.split() for line in f.read().splitlines() if line.strip()]
    bad = [k for k, row in enumerate(rows) if len(row) != 2 or row[1] not in DIFFICULTY_LEVELS]
    if bad:
        raise ValueError(f'{path}: line {bad[0] + 1} is not "<image> easy|hard": '
                         f'{" ".join(rows[bad[0]])!r}')
    ann = osp.join(data_root, 'meta', f'{split}.txt')
    if osp.isfile(ann):
        with open(ann, encoding='utf-8') as f:
            images = [line.split()[0] for line in f.read().splitlines() if line.strip()]
        if images != [row[0] for row in rows]:
            raise ValueError(f'{path} does not list the images of {ann} in the same order')
    return [row[1] for row in rows]


_WRITERS = dict(det=_write_det, seg=_write_seg, pose=_write_pose, cls=_write_cls, depth=_write_depth)


def _dump_json(obj: Dict, path: str) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(obj, f, separators=(',', ':'))


def check_output_folder(out: str) -> str:
    """The absolute output folder, refusing the places a mistyped or unset path resolves to.

    An empty path (an unset shell variable), the current folder, one of its parents, the home
    folder and the file system root are refused: with ``--overwrite`` they would be replaced.
    """
    if not isinstance(out, str) or not out.strip():
        raise ShapesArgumentError(f'output folder is empty ({out!r}); give a new folder such as data/shapes_det')
    path = osp.realpath(osp.abspath(out))
    cwd = osp.realpath(os.getcwd())
    home = osp.realpath(osp.expanduser('~'))
    if path == osp.dirname(path) or path == home or cwd == path or cwd.startswith(path.rstrip(os.sep) + os.sep):
        raise ShapesArgumentError(f'refusing output folder {out!r} ({path}): it is the file system root, the home '
                                  'folder, the current folder or a parent of it; give a folder of its own, such as '
                                  'data/shapes_det')
    return path


def is_shapes_folder(path: str) -> bool:
    """Whether ``path`` holds a data set make_shapes wrote (its meta.json with a generator version)."""
    try:
        with open(osp.join(path, 'meta.json'), encoding='utf-8') as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and 'generator_version' in meta and meta.get('task') in TASKS


def _remove_stale_temporaries(parent: str, prefix: str) -> None:
    """Remove temporary folders of earlier runs for the same output that were killed (their process
    is gone): ``{prefix}{pid}-*``. Folders of a live process are left alone."""
    if not osp.isdir(parent):
        return
    for name in os.listdir(parent):
        if not name.startswith(prefix):
            continue
        pid = name[len(prefix):].split('-', 1)[0]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        shutil.rmtree(osp.join(parent, name), ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def make_shapes(task: str, out: str, num_train: int = 200, num_val: int = 50, size: int = 128,
                seed: int = 0, overwrite: bool = False, difficulty: Optional[str] = None) -> Dict:
    """Write a shapes data set for ``task`` into ``out``.

    The set is written into a temporary folder beside ``out`` and moved into place at the end, so
    an interrupted run never leaves a half-written data set behind; the temporary folder of a run
    that was killed outright (SIGKILL) is removed by the next run for the same ``out``. Folders and
    files get the usual permissions (0777 / 0666 less the umask), not owner-only ones.

    Args:
        task: one of ``'det'``, ``'seg'``, ``'pose'``, ``'cls'``, ``'depth'``.
        out: output folder; must not exist yet unless ``overwrite`` is set. An empty path, the
            current folder or a parent of it, the home folder and ``/`` are refused.
        num_train: number of training images (>= 0).
        num_val: number of validation images (>= 0).
        size: side of the square images in pixels (>= 32).
        seed: random seed; the same arguments always give identical files.
        overwrite: replace ``out`` if it exists and is a shapes data set (its ``meta.json``); any
            other folder is refused, so nothing but a data set of this generator is ever deleted.
        difficulty: ``None`` (default: the usual scenes, files identical to earlier versions) or
            ``'mixed'`` (``task='cls'`` only): each image easy or hard with probability 1/2 (see the
            module docstring), listed in ``meta/difficulty_{split}.txt`` (:func:`read_difficulty`)
            and ``meta.json`` gets ``difficulty``.

    Returns:
        dict: the description written to ``out/meta.json`` (task, counts, classes, ...).
    """
    check_arguments(task, num_train, num_val, size, difficulty)
    out = check_output_folder(out)
    if osp.exists(out) and not overwrite:
        raise FileExistsError(f'{out} exists; pass overwrite=True (--overwrite) to replace it')
    if osp.exists(out) and not is_shapes_folder(out):
        raise ShapesArgumentError(f'{out} exists and is not a shapes data set (no meta.json written by '
                                  'make_shapes): --overwrite replaces only data sets make_shapes wrote; remove '
                                  'or rename it yourself, or choose another --out')
    parent = osp.dirname(out)
    prefix = f'.shapes-{osp.basename(out)}-'
    _remove_stale_temporaries(parent, prefix)
    tmp = make_temp_dir(parent, prefix=f'{prefix}{os.getpid()}-')
    try:
        extra = {} if difficulty is None else dict(difficulty=difficulty)
        for split, num in (('train', num_train), ('val', num_val)):
            _WRITERS[task](tmp, split, num, size, seed, **extra)
        meta = dict(task=task, num_train=num_train, num_val=num_val, size=size, seed=seed,
                    classes=list(SEG_CLASSES if task == 'seg' else
                                 ('figure', ) if task == 'pose' else SHAPE_CLASSES),
                    generator_version=GENERATOR_VERSION)
        if task == 'pose':
            meta['keypoints'] = list(POSE_KEYPOINTS)
        if task == 'depth':
            meta.update(depth_scale=DEPTH_SCALE, depth_unit='mm', split_dirs=dict(DEPTH_SPLIT_DIRS))
        if difficulty is not None:
            meta['difficulty'] = difficulty
        _dump_json(meta, osp.join(tmp, 'meta.json'))
        if osp.exists(out):
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return meta


def generate_command(task: str, out: str, num_train: int, num_val: int, size: int,
                     seed: int = 0, difficulty: Optional[str] = None) -> str:
    """The shell command that writes a shapes data set (used in error messages and docs)."""
    cmd = (f'python tools/data/make_shapes.py --task {task} --out {out} --num-train {num_train} '
           f'--num-val {num_val} --size {size} --seed {seed}')
    return cmd if difficulty is None else f'{cmd} --difficulty {difficulty}'
