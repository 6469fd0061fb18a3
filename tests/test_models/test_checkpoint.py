"""Whole-checkpoint remapping into built backbones (mmadapt.models.checkpoint)."""
import pytest
import torch

from mmadapt.arch import load_spec
from mmadapt.models import (DerivedMobileNetV1, DerivedMobileNetV3, DerivedResNet, SuperMobileNetV2, SuperResNet,
                            build_spec_backbone, remap_checkpoint)


def test_build_spec_backbone_picks_the_family_class():
    assert type(build_spec_backbone('mobilenet_v1')) is DerivedMobileNetV1
    assert type(build_spec_backbone('efficientnet_b0', out_indices=(3, ))) is DerivedMobileNetV3
    assert type(build_spec_backbone('resnet18')) is DerivedResNet
    assert type(build_spec_backbone('fna_mbv2_det', out_indices=(6, ))) is SuperMobileNetV2
    assert type(build_spec_backbone('fna_resnet18')) is SuperResNet
    backbone = build_spec_backbone('mobilenet_v3_small', norm_cfg=dict(type='BN', eps=1e-3))
    assert backbone.stem.bn.eps == 1e-3 and backbone.init_cfg == []
    d = load_spec('mobilenet_v3_small').to_dict()
    d['stages'][1]['blocks'][1] = 'k3e3|k5e6_se'
    with pytest.raises(ValueError, match=r"no super-backbone builds mbv3 specs \(families with one: "
                                         r"\['mbv2', 'resnet'\]\); derive a spec first"):
        build_spec_backbone(d)


def test_remap_checkpoint_of_a_new_family_seed(tmp_path):
    torch.manual_seed(0)
    seed = build_spec_backbone('mobilenet_v3_large')
    path = tmp_path / 'seed.pth'
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in seed.state_dict().items()}}, path)
    result = remap_checkpoint(str(path), 'mobilenet_v3_large', 'mobilenet_v3_large', out_indices=(2, 4))
    assert result.seed_report.format == 'mmadapt'
    assert result.report.unfilled == [] and result.report.unused == [
        k for k in sorted(seed.state_dict()) if k.startswith(('stages.5.', 'head.'))]
    assert all(torch.equal(v, seed.state_dict()[k[len('backbone.'):]]) for k, v in result.state_dict.items())
    result.save(str(tmp_path / 'out.pth'))
    saved = torch.load(tmp_path / 'out.pth', weights_only=True)
    assert saved['meta']['arch_spec']['name'] == 'mobilenet_v3_large'
    with pytest.raises(ValueError, match='cannot remap a mbv3 spec into a mbv1 spec'):
        remap_checkpoint(str(path), 'mobilenet_v3_large', 'mobilenet_v1')
