# NetAdaptV2 to a latency target on this machine's CPU (the demo: tools/demo.py --method netadaptv2):
# mobilenetv2_shapes.py searched to 60% of the initial network's *measured* latency (batch 1, one
# thread), the resource being the latency table's prediction (units measured as the search meets
# them, calibrated on whole networks; latency_table.json in the work dir).
_base_ = './mobilenetv2_shapes.py'
netadaptv2 = dict(
    budget_ratio=0.6,
    cost=dict(_delete_=True, type='latency', input_size=(32, 32), device='cpu', threads=1, warmup=5, repeats=15),
    latency=dict(threads=1, warmup=10, repeats=50),
)
