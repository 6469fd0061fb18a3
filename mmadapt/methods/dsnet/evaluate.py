"""DS-Net's costs and evaluation: MAdds per route, per-image MAdds of the gates' choices, accuracy /
average MAdds / measured latency of the dynamic network beside every static route (Table 9).

MAdds are counted as everywhere in mmadapt (:mod:`mmadapt.cost.madds`: conv and linear multiply-adds,
per image) for the backbone of the route and its classifier, plus the gates' own 1x1 convs on
pooled vectors: every attention head ``2 * c * d`` (c its point's active channels, d its hidden
width) and, in a dynamic run, every gate's slimming head ``d * K``. ``count_pool=True`` adds the
global poolings (the attention heads' and the classifier's, ``C * H * W`` each), the convention of
DS-Net's public code, whose per-width figures the tests reproduce.
"""
import json
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from mmadapt.cost.madds import classifier_cost, spec_cost
from mmadapt.models.backbones.dynamic import DSBackbone
from mmadapt.models.backbones.elastic import output_widths
from mmadapt.utils.fileio import atomic_write_text


def _point_costs(backbone: DSBackbone, spec, input_hw, count_pool: bool, before_stage: Optional[int] = None) -> int:
    """MAdds of the attention heads of a route (and their pooling with ``count_pool``); with
    ``before_stage``, only those of the stages before it."""
    widths = output_widths(spec, len(backbone.net.stages))[0]
    sc = spec_cost(spec, input_hw)
    in_hw = {(lc.info.stage, lc.info.layer): lc.in_hw for lc in sc.layers}
    total = 0
    for point, head in backbone.attention_points():
        if before_stage is not None and point.stage >= before_stage:
            continue
        info = next(i for i in spec.layers() if i.stage == point.stage and i.layer == point.layer)
        if point.unit is None:
            c, hw = info.in_channels, in_hw[(point.stage, point.layer)]
        else:
            c = widths[point.unit]
            h, w = in_hw[(point.stage, point.layer)]
            s = info.stride
            hw = ((h - 1) // s + 1, (w - 1) // s + 1)  # after the strided depthwise conv
        total += 2 * c * head.hidden + (c * hw[0] * hw[1] if count_pool else 0)
    return total


def route_madds(backbone: DSBackbone, input_hw: Tuple[int, int], num_classes: Optional[int] = None,
                count_pool: bool = False) -> torch.Tensor:
    """(R,) MAdds of every static route (backbone, attention heads, classifier when ``num_classes``)."""
    out = []
    for spec in backbone.route_specs:
        if num_classes:
            cc = classifier_cost(spec, num_classes, input_hw)
            m = cc.madds
            if count_pool:
                sc = cc.backbone
                last = sc.layers[-1]
                h, w = last.in_hw
                s = last.info.stride
                m += cc.in_features * ((h - 1) // s + 1) * ((w - 1) // s + 1)
        else:
            m = spec_cost(spec, input_hw, backbone.out_indices).madds
        out.append(m + _point_costs(backbone, spec, input_hw, count_pool))
    return torch.tensor(out, dtype=torch.float64)


def trunk_madds(backbone: DSBackbone, input_hw: Tuple[int, int]) -> int:
    """MAdds of the trunk: the stem and the stages before the first gated stage with their attention
    heads (the same on every route)."""
    first = backbone.gate_stages[0][0]
    spec = backbone.route_specs[0]
    sc = spec_cost(spec, input_hw)
    convs = sc.stem_madds + sum(lc.madds[0] for lc in sc.layers if lc.info.stage < first)
    return int(convs + _point_costs(backbone, spec, input_hw, False, before_stage=first))


def gate_madds(backbone: DSBackbone) -> int:
    """MAdds of the slimming heads of a dynamic run (every gate runs once per image)."""
    return sum(m.hidden * m.num_choices for m in backbone.heads.values() if m.slim is not None)


def route_probs(onehots: Sequence[torch.Tensor]) -> torch.Tensor:
    """(N, R) probabilities of the routes (in ``DSBackbone.routes`` order) from one (N, K_g) per gate."""
    p = onehots[0]
    for o in onehots[1:]:
        p = (p[:, :, None] * o[:, None, :]).reshape(p.shape[0], -1)
    return p


def _logits(model, inputs):
    return model(inputs, mode='tensor')


@torch.no_grad()
def evaluate_routes(model, loader, costs: torch.Tensor, static_routes: Sequence[Tuple[int, ...]],
                    gate_cost: int, latency_images: int = 50, difficulty: Optional[Sequence[str]] = None,
                    log=print) -> Dict:
    """Accuracy and average MAdds of the dynamic network and of each static route over ``loader``;
    per-image latency at batch 1 over the first ``latency_images`` images (median ms).

    ``model`` is an mmpretrain classifier whose backbone is a :class:`DSBackbone` (eval mode).
    ``difficulty``: a label per dataset sample (``sample_idx`` order, e.g. the shapes data's
    ``'easy'`` / ``'hard'``): the dynamic row then gives, per label, its accuracy, average MAdds and
    the share of its images on the slimmest allowed route."""
    model.eval()
    backbone = model.backbone
    rows = {}
    batches = []
    for data in loader:
        idx = [s.metainfo.get('sample_idx') for s in data['data_samples']]
        data = model.data_preprocessor(data, False)
        labels = torch.cat([s.gt_label for s in data['data_samples']]).to(data['inputs'].device)
        batches.append((data['inputs'], labels, idx))
    n = sum(len(b[1]) for b in batches)
    # dynamic
    backbone.set_dynamic()
    low = tuple(backbone.allowed_choices(g)[0] for g in range(len(backbone.num_choices)))
    correct, madds, counts = 0, 0.0, torch.zeros(len(backbone.routes), dtype=torch.long)
    kinds: Dict[str, Dict[str, float]] = {}
    for inputs, labels, sample_idx in batches:
        ok = _logits(model, inputs).argmax(1) == labels
        correct += int(ok.sum())
        routes = [tuple(r) for r in backbone.last_choices.tolist()]
        idx = torch.tensor([backbone.route_index(r) for r in routes])
        counts += torch.bincount(idx, minlength=len(backbone.routes))
        madds += float(costs[idx].sum()) + gate_cost * len(idx)
        if difficulty is not None:
            for j, si in enumerate(sample_idx):
                if si is None:
                    continue
                k = kinds.setdefault(difficulty[si], dict(images=0, correct=0, madds=0.0, slimmest=0))
                k['images'] += 1
                k['correct'] += int(ok[j])
                k['madds'] += float(costs[idx[j]]) + gate_cost
                k['slimmest'] += int(routes[j] == low)
    rows['dynamic'] = dict(accuracy=100.0 * correct / n, madds=madds / n,
                           route_share={str(backbone.routes[i]): round(float(c) / n, 4)
                                        for i, c in enumerate(counts) if c})
    if kinds:
        rows['dynamic']['by_difficulty'] = {
            name: dict(images=k['images'], accuracy=100.0 * k['correct'] / k['images'], madds=k['madds'] / k['images'],
                       slimmest_share=k['slimmest'] / k['images']) for name, k in sorted(kinds.items())}
    rows['dynamic']['latency_ms'] = _latency(model, batches, latency_images, None)
    for route in static_routes:
        backbone.set_route(route)
        correct = sum(int((_logits(model, x).argmax(1) == y).sum()) for x, y, _ in batches)
        rows[str(tuple(route))] = dict(accuracy=100.0 * correct / n, madds=float(costs[backbone.route_index(route)]),
                                       latency_ms=_latency(model, batches, latency_images, route))
    backbone.set_dynamic()
    log(format_table(rows))
    return rows


@torch.no_grad()
def evaluate_routes_with(model, loader, evaluator, costs: torch.Tensor, static_routes: Sequence[Tuple[int, ...]],
                         gate_cost: int, latency_images: int = 50, log=print) -> Tuple[Dict, str]:
    """As :func:`evaluate_routes` for any task model (detection, ...) with the runner's evaluator:
    each row's ``accuracy`` is the evaluator's first metric (returned as the second value, e.g.
    ``coco/bbox_mAP``), all its metrics under ``metrics``. MAdds are the backbone's and its gates'."""
    model.eval()
    backbone = model.backbone

    def run(route):
        if route is None:
            backbone.set_dynamic()
        else:
            backbone.set_route(route)
        counts = torch.zeros(len(backbone.routes), dtype=torch.long)
        for data in loader:
            outputs = model.val_step(data)
            evaluator.process(data_samples=outputs, data_batch=data)
            if route is None:
                idx = torch.tensor([backbone.route_index(tuple(r)) for r in backbone.last_choices.tolist()])
                counts += torch.bincount(idx, minlength=len(backbone.routes))
        return evaluator.evaluate(len(loader.dataset)), counts

    rows = {}
    metrics, counts = run(None)
    results = {'dynamic': metrics}
    for route in static_routes:
        results[str(tuple(route))] = run(route)[0]
    # the evaluator's first metric (an evaluator that found nothing to score, e.g. no detections at
    # all, returns no metric: it counts as 0)
    key = next((next(iter(m)) for m in results.values() if m), 'score')
    n = int(counts.sum())
    rows['dynamic'] = dict(accuracy=100.0 * float(metrics.get(key, 0.0)), metrics=metrics,
                           madds=float((counts.double() * costs).sum()) / n + gate_cost,
                           route_share={str(backbone.routes[i]): round(float(c) / n, 4)
                                        for i, c in enumerate(counts) if c})
    images = []
    for data in loader:
        x = model.data_preprocessor(data, False)['inputs']
        images.extend(x[i:i + 1] for i in range(x.shape[0]))
        if len(images) >= latency_images:
            break
    batches = [(torch.cat(images), None, None)] if images else []
    rows['dynamic']['latency_ms'] = _latency(model, batches, latency_images, None)
    for route in static_routes:
        metrics = results[str(tuple(route))]
        rows[str(tuple(route))] = dict(accuracy=100.0 * float(metrics.get(key, 0.0)), metrics=metrics,
                                       madds=float(costs[backbone.route_index(route)]),
                                       latency_ms=_latency(model, batches, latency_images, route))
    backbone.set_dynamic()
    log(format_table(rows, key))
    return rows, key


def _latency(model, batches, count: int, route) -> Optional[float]:
    """Median ms per image at batch 1 (``route`` None: dynamic)."""
    if count <= 0:
        return None
    images = [b[0][i:i + 1] for b in batches for i in range(b[0].shape[0])][:count]
    backbone = model.backbone
    if route is None:
        backbone.set_dynamic()
    else:
        backbone.set_route(route)
    for x in images[:3]:
        _logits(model, x)
    times = []
    for x in images:
        if x.is_cuda:
            torch.cuda.synchronize()
        t = time.perf_counter()
        _logits(model, x)
        if x.is_cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    times.sort()
    return round(1000 * times[len(times) // 2], 4)


def format_table(rows: Dict[str, Dict], metric: str = 'top-1') -> str:
    lines = [f'| network | {metric} (%) | MAdds (avg) | latency, batch 1 (ms, median) |', '| --- | --- | --- | --- |']
    for name, r in rows.items():
        lat = '-' if r.get('latency_ms') is None else f"{r['latency_ms']:.3f}"
        label = 'dynamic (gate)' if name == 'dynamic' else f'static route {name}'
        lines.append(f"| {label} | {r['accuracy']:.2f} | {r['madds'] / 1e6:.3f}M | {lat} |")
    return '\n'.join(lines)


def equal_madds_static(rows: Dict[str, Dict]) -> Optional[Dict]:
    """The static routes interpolated at the dynamic network's average MAdds (accuracy and latency
    linear in MAdds between the two neighbouring static routes), or None outside their range."""
    static = sorted(((r['madds'], r) for k, r in rows.items() if k != 'dynamic'), key=lambda t: t[0])
    target = rows['dynamic']['madds']
    for (m0, r0), (m1, r1) in zip(static, static[1:]):
        if m0 <= target <= m1:
            t = 0.0 if m1 == m0 else (target - m0) / (m1 - m0)
            out = dict(madds=target, accuracy=r0['accuracy'] + t * (r1['accuracy'] - r0['accuracy']))
            if r0.get('latency_ms') is not None and r1.get('latency_ms') is not None:
                out['latency_ms'] = r0['latency_ms'] + t * (r1['latency_ms'] - r0['latency_ms'])
            return out
    return None


def write_summary(out_dir: str, rows: Dict[str, Dict], info: Dict) -> Dict:
    """``summary.json``, ``summary.md`` and ``curve.png`` (accuracy vs MAdds) in ``out_dir``."""
    from mmadapt.utils.fileio import save_figure
    eq = equal_madds_static(rows)
    summary = dict(rows=rows, static_at_dynamic_madds=eq, **info)
    atomic_write_text(osp.join(out_dir, 'summary.json'), json.dumps(summary, indent=2))
    text = ['# DS-Net: dynamic network vs static routes', '', format_table(rows, info.get('metric', 'top-1')), '']
    if eq is not None:
        lat = '' if eq.get('latency_ms') is None else f", {eq['latency_ms']:.3f} ms"
        text.append(f"Static routes interpolated at the dynamic network's {eq['madds'] / 1e6:.3f}M MAdds: "
                    f"{eq['accuracy']:.2f}%{lat}.")
    text.append(f"Dynamic routes (share of validation images): {rows['dynamic']['route_share']}")
    for name, k in rows['dynamic'].get('by_difficulty', {}).items():
        text.append(f"- {name} images ({k['images']}): top-1 {k['accuracy']:.2f}%, {k['madds'] / 1e6:.3f}M MAdds on "
                    f"average, {100 * k['slimmest_share']:.1f}% on the slimmest route")
    for k, v in info.items():
        text.append(f'- {k}: {v}')
    atomic_write_text(osp.join(out_dir, 'summary.md'), '\n'.join(text) + '\n')

    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 4))
    static = sorted((r['madds'] / 1e6, r['accuracy']) for k, r in rows.items() if k != 'dynamic')
    ax.plot([s[0] for s in static], [s[1] for s in static], 'o-', label='static routes')
    ax.plot([rows['dynamic']['madds'] / 1e6], [rows['dynamic']['accuracy']], 'r*', markersize=14, label='dynamic (gate)')
    ax.set_xlabel('MAdds (M, average per image)')
    ax.set_ylabel(f"{info.get('metric', 'top-1')} (%)")
    ax.legend()
    ax.grid(alpha=0.3)
    save_figure(fig, osp.join(out_dir, 'curve.png'))
    plt.close(fig)
    return summary


def static_routes_to_report(backbone: DSBackbone, limit: int = 16) -> List[Tuple[int, ...]]:
    """Every route when there are at most ``limit``, else the uniform ones (every gate at choice k
    of its K, scaled)."""
    if len(backbone.routes) <= limit:
        return list(backbone.routes)
    kmax = max(backbone.num_choices)
    return sorted({tuple(min(k * (kg - 1) // max(kmax - 1, 1), kg - 1) for kg in backbone.num_choices)
                   for k in range(kmax)})


def spread_routes(model: DSBackbone, x: torch.Tensor, seed: int = 0) -> None:
    """Set every gate (its W1 and W2) so that the images of ``x`` spread over its choices, for latency
    measurements and tests on untrained networks (what they time or check is the routing and the
    sliced runs, not accuracy): with s an image's standardised
    projection of its pooled gate input on a random direction, the slimming head scores choice k by
    ``b k (s + 2) - k^2``, b = (K - 1) / 2, so the chosen width grows with s, about (K - 1) (s + 2) / 4."""
    seen = {}
    g = torch.Generator().manual_seed(seed)
    for key, head in model.heads.items():
        if head.slim is None:
            continue
        with torch.no_grad():  # an encoding with many active units
            w = head.reduce.weight
            w.copy_((torch.randn(w.shape, generator=g) * 2 / head.channels ** 0.5).to(w.device))
            head.reduce.bias.zero_()
        encode = head.encode

        def record(inp, key=key, encode=encode):
            h = encode(inp)
            seen[key] = h.detach()
            return h
        head.encode = record
    model.set_dynamic(masked=True)
    with torch.no_grad():
        model(x)
    for key, head in model.heads.items():
        if head.slim is None:
            continue
        del head.encode
        h = seen[key].cpu().double()
        mu = h.mean(0)
        u = torch.randn(h.shape[1], generator=g).double()
        u = u - u.dot(mu) / mu.dot(mu) * mu  # orthogonal to the mean: u.h = u.(h - mu)
        u = u / ((h - mu) @ u).std().clamp_min(1e-12)
        k = torch.arange(head.num_choices, dtype=torch.float64)
        b = (head.num_choices - 1) / 2
        weight = (b * k)[:, None] * u[None, :] + ((2 * b * k - k ** 2)[:, None] * mu[None, :] / mu.dot(mu))
        with torch.no_grad():
            head.slim.weight.copy_(weight.float().view_as(head.slim.weight).to(head.slim.weight.device))
