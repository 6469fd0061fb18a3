"""Seed templates: keys and shapes of a derived backbone, computed from its spec without building it."""
import pytest

from mmadapt.arch import builtin_specs, load_spec
from mmadapt.models import derived_backbone_class
from mmadapt.remap import seed_template

DERIVED = [n for n in builtin_specs() if load_spec(n).is_derived]


def _truncations(name):
    """out_indices of the whole network, of the first stage, of the middle, and several outputs."""
    spec = load_spec(name)
    n = len(spec.stages)
    mid = n // 2
    return [None, (0, ), (mid, ), (0, mid, n - 1)]


@pytest.mark.parametrize('name', DERIVED)
def test_seed_template_equals_the_built_backbone(name):
    assert {'mobilenet_v1', 'mobilenet_v3_large', 'efficientnet_b0', 'resnet50', 'mobilenet_v2'} <= set(DERIVED)
    spec = load_spec(name)
    cls = derived_backbone_class(spec.family)
    for out_indices in _truncations(name):
        kwargs = {} if out_indices is None else dict(out_indices=out_indices)
        built = cls(spec=spec, init_cfg=[], **kwargs).state_dict()
        template = seed_template(name, out_indices)
        assert list(template) == list(built), (name, out_indices)  # same keys, in the same order
        for key, value in built.items():
            assert template[key].shape == value.shape and template[key].dtype == value.dtype, (name, key)
            assert template[key].device.type == 'meta'


def test_seed_template_of_custom_widths_and_bypassed_layers():
    d = load_spec('mobilenet_v3_small').to_dict()
    d['stages'][2]['blocks'] = ['k5e4_se', 'k7e6_se_h100_c56', 'k5e6_h0']  # 40 -> 56 padded, then bypassed
    d['stages'][3]['blocks'] = ['k3e3_se', 'skip']
    cls = derived_backbone_class('mbv3')
    built = cls(spec=d, init_cfg=[]).state_dict()
    template = seed_template(d)
    assert {k: v.shape for k, v in template.items()} == {k: v.shape for k, v in built.items()}
    assert template['stages.2.1.se.conv_reduce.weight'].shape == (24, 100, 1, 1)  # make_divisible(100 / 4, 8)
    assert not any(k.startswith(('stages.2.2.', 'stages.3.1.')) for k in template)


def test_seed_template_refuses_super_specs_and_bad_outputs():
    with pytest.raises(ValueError, match="spec 'fna_mbv2_det' has searchable layers"):
        seed_template('fna_mbv2_det')
    with pytest.raises(ValueError, match=r'out_indices \(5,\) not allowed for spec .resnet18.; allowed: integers 0..3'):
        seed_template('resnet18', (5, ))
