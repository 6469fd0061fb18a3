"""Pictures of specs: a derived spec in the style of FNA++ Fig. 7, and the widths of several networks.

:func:`draw_spec`: one box per block, stages grouped.

Box colour shows the kernel size, box height the expansion ratio (MBConv) or the number of groups
(ResNet blocks), and the token is written in each box; ``skip`` layers are dashed outlines. A
super-net spec is drawn with its candidates listed per layer.
"""
from typing import Optional, Sequence, Tuple

from .spec import ArchSpec, load_spec

KERNEL_COLOURS = {1: '#d9d9d9', 3: '#9ecae1', 5: '#fdae6b', 7: '#fb6a4a', 9: '#a50f15'}


def _colour(kernel: int) -> str:
    return KERNEL_COLOURS.get(kernel, '#756bb1')


def draw_spec(spec, path: str, title: Optional[str] = None, dpi: int = 150) -> str:
    """Draw ``spec`` (spec, name, file or dict) to the PNG file ``path``; returns ``path``."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch, Rectangle

    spec: ArchSpec = load_spec(spec)
    infos = spec.layers()
    n = len(infos) + 1 + (1 if spec.head else 0)
    fig_w = max(6.0, 0.55 * n + 1.5)
    fig, ax = plt.subplots(figsize=(fig_w, 3.2))
    x = 0.0
    step, box_w = 1.0, 0.8

    def box(x0, height, colour, text, dashed=False):
        ax.add_patch(Rectangle((x0, -height / 2), box_w, height, facecolor='none' if dashed else colour,
                               edgecolor='black', linestyle='--' if dashed else '-', linewidth=0.8))
        ax.text(x0 + box_w / 2, 0, text, rotation=90, ha='center', va='center', fontsize=7)

    stem = spec.stem
    box(x, 1.2, '#bdbdbd', f"conv{stem['kernel']}x{stem['kernel']} c{stem['out_channels']}")
    x += step
    for s, stage in enumerate(spec.stages):
        stage_infos = [i for i in infos if i.stage == s]
        x_start = x
        for info in stage_infos:
            if info.searchable:
                box(x, 1.6, '#f0f0f0', '\n'.join(b.token for b in info.candidates))
            else:
                b = info.candidates[0]
                if b.is_skip:
                    box(x, 0.6, 'none', 'skip', dashed=True)
                else:
                    level = b.expansion if b.kind == 'mbconv' else b.groups
                    height = min(2.0, 0.7 + 0.2 * float(level))
                    box(x, height, _colour(b.kernel), b.token)
            x += step
        ax.axvspan(x_start - 0.1, x - step + box_w + 0.1, color='#f7f7f7' if s % 2 else '#ececec', zorder=-1)
        ax.text((x_start + x - step + box_w) / 2, 1.25, f'c{stage.out_channels}\ns{stage.stride}'
                + (f' d{stage.dilation}' if stage.dilation > 1 else ''), ha='center', va='bottom', fontsize=7)
    if spec.head:
        box(x, 1.2, '#bdbdbd', f"conv1x1 c{spec.head['out_channels']}")
        x += step
    kernels = sorted({b.kernel for i in infos for b in i.candidates if not b.is_skip})
    ax.legend(handles=[Patch(facecolor=_colour(k), edgecolor='black', label=f'{k}x{k}') for k in kernels],
              loc='lower right', fontsize=7, ncol=len(kernels), frameon=False, bbox_to_anchor=(1, -0.12))
    ax.set_xlim(-0.3, x + 0.1)
    ax.set_ylim(-1.3, 1.7)
    ax.axis('off')
    ax.set_title(title or spec.name, fontsize=9)
    from mmadapt.utils.fileio import save_figure
    return save_figure(fig, path, dpi, bbox_inches='tight')


WIDTH_COLOURS = ('#9aa7b1', '#d95f02', '#7570b3', '#1b9e77')


def draw_width_bars(path: str, names: Sequence[str], series: Sequence[Tuple[str, Sequence[int]]],
                    title: Optional[str] = None) -> str:
    """Bars of widths by unit name, one labelled series per network (the width methods' rounds);
    returns ``path``."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from mmadapt.utils.fileio import save_figure
    n = len(names)
    fig, ax = plt.subplots(figsize=(max(6, 0.4 * n), 3.5))
    width = 0.8 / len(series)
    for j, (label, widths) in enumerate(series):
        offset = (j - (len(series) - 1) / 2) * width
        ax.bar([i + offset for i in range(n)], list(widths), width=width, label=label,
               color=WIDTH_COLOURS[j % len(WIDTH_COLOURS)])
    ax.set_xticks(list(range(n)))
    ax.set_xticklabels(names, rotation=70, fontsize=7)
    ax.set_ylabel('channels')
    if title:
        ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)
