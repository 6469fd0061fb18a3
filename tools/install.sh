#!/usr/bin/env bash
# Install mmadapt and the verified OpenMMLab stack.
#
#   tools/install.sh            # into an isolated environment at ./.venv (default)
#   VENV=/path/to/env tools/install.sh
#   VENV=none tools/install.sh  # into the Python that is active now (pip install -e .)
#   DEPLOY=1 tools/install.sh   # also the deployment extra: mmdeploy 1.3.1, onnx, onnxruntime
#                               # (requirements/deploy.txt; `make install-deploy`)
#
# Idempotent: when the environment already holds the stack that requirements/ describes, the
# script verifies the imports and returns within seconds. Every pip call after torch is installed
# runs against requirements/constraints.txt, so pip can never replace the pinned torch (which would
# break the compiled mmcv ops).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${VENV:-$ROOT/.venv}"
DEPLOY="${DEPLOY:-0}"
PYTHON_BOOT="${PYTHON:-python3}"
CONSTRAINTS="$ROOT/requirements/constraints.txt"
log() { printf '[install] %s\n' "$*"; }

if [ "$VENV" = "none" ]; then
  PY="$PYTHON_BOOT"
  STAMP_DIR="$ROOT/.install-stamps"
else
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating virtual environment at $VENV"
    "$PYTHON_BOOT" -m venv "$VENV"
  fi
  PY="$VENV/bin/python"
  STAMP_DIR="$VENV/.mmadapt-stamps"
fi
mkdir -p "$STAMP_DIR"
PIP=("$PY" -m pip --disable-pip-version-check)

# The deployment extra (DEPLOY=1): mmdeploy with --no-deps, because its protobuf<=3.20.2 pin cannot
# be met beside onnx (protobuf>=6.31); its other requirements come from requirements/deploy.txt.
install_deploy() {
  [ "$DEPLOY" = "1" ] || return 0
  local want_deploy
  want_deploy=$(cat requirements/deploy.txt requirements/constraints.txt tools/install.sh | sha256sum | cut -c1-16)
  if [ -f "$STAMP_DIR/deploy" ] && [ "$(cat "$STAMP_DIR/deploy")" = "$want_deploy" ] && \
      "$PY" -c "import mmdeploy, onnx, onnxruntime; assert mmdeploy.__version__ == '1.3.1'" 2>/dev/null; then
    log "deployment extra is up to date"
    return 0
  fi
  log "deployment extra: mmdeploy 1.3.1, onnx, onnxruntime"
  "${PIP[@]}" install -q -c "$CONSTRAINTS" -r requirements/deploy.txt
  "${PIP[@]}" install -q -c "$CONSTRAINTS" --no-deps "mmdeploy==1.3.1"
  "$PY" - <<'EOF'
import mmdeploy, onnx, onnxruntime, torch  # noqa
from mmadapt.deploy import require_mmdeploy
require_mmdeploy()
print(f'[install] mmdeploy {mmdeploy.__version__}, onnx {onnx.__version__}, onnxruntime {onnxruntime.__version__}')
assert torch.__version__.split('+')[0] == '2.13.0', f'torch was replaced: {torch.__version__}'
EOF
  echo "$want_deploy" > "$STAMP_DIR/deploy"
}

# The stamp is a hash of everything that decides what gets installed (the deployment extra has its own).
want=$(cat requirements/constraints.txt requirements/runtime.txt requirements/tests.txt setup.py tools/install.sh \
  | sha256sum | cut -c1-16)
if [ -f "$STAMP_DIR/stack" ] && [ "$(cat "$STAMP_DIR/stack")" = "$want" ]; then
  if "$PY" - <<'EOF' 2>/dev/null
import mmcv, mmcv.ops, mmdet, mmseg, mmpose, mmpretrain, mmengine, timm, torch, torchvision, mmadapt  # noqa
assert torch.__version__.split('+')[0] == '2.13.0' and '+cpu' not in torch.__version__, torch.__version__
EOF
  then
    log "environment is up to date ($PY)"
    install_deploy
    exit 0
  fi
  log "stamp found but imports failed: reinstalling"
fi

log "step 1/5: pip and setuptools"
"${PIP[@]}" install -q --upgrade "pip>=24" "setuptools>=77,<81" wheel

log "step 2/5: torch 2.13.0 and torchvision 0.28.0"
"${PIP[@]}" install -q -c "$CONSTRAINTS" "torch===2.13.0" "torchvision==0.28.0" "numpy<2"

log "step 3/5: mmcv 2.1.0 with compiled ops (built from source the first time: ~15 min on 2 cores)"
if ! "$PY" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '2.1.0'" 2>/dev/null; then
  # openmim/mmengine are imported by mmcv's setup.py only optionally; --no-build-isolation makes
  # the build see the pinned torch instead of pulling the newest one into an isolated env.
  "${PIP[@]}" install -q -c "$CONSTRAINTS" ninja psutil
  MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" FORCE_CUDA="${FORCE_CUDA:-0}" \
    "${PIP[@]}" install -c "$CONSTRAINTS" --no-build-isolation "mmcv==2.1.0"
fi

log "step 4/5: OpenMMLab frameworks and test tools"
# chumpy (an mmpose dependency) has a setup.py that imports pip: build it without isolation.
"${PIP[@]}" install -q -c "$CONSTRAINTS" --no-build-isolation chumpy
"${PIP[@]}" install -q -c "$CONSTRAINTS" -r requirements/runtime.txt -r requirements/tests.txt

log "step 5/5: mmadapt (editable)"
"${PIP[@]}" install -q -c "$CONSTRAINTS" --no-deps --no-build-isolation -e .

"$PY" - <<'EOF'
import torch, mmcv, mmcv.ops, mmengine, mmdet, mmseg, mmpose, mmpretrain, timm, mmadapt  # noqa
print(f'[install] torch {torch.__version__}, mmcv {mmcv.__version__}, mmengine {mmengine.__version__}, '
      f'mmdet {mmdet.__version__}, mmseg {mmseg.__version__}, mmpose {mmpose.__version__}, '
      f'mmpretrain {mmpretrain.__version__}, timm {timm.__version__}')
assert torch.__version__.split('+')[0] == '2.13.0' and '+cpu' not in torch.__version__, \
    f'torch was replaced: {torch.__version__}'
EOF
echo "$want" > "$STAMP_DIR/stack"
install_deploy
log "done ($PY)"
