# Two commands do all the set-up on a fresh machine:
#   make demo   installs the stack (first time ~20 min: mmcv is compiled) and runs the main job
#   make test   installs the stack and the deployment extra, and runs the test suite
#   make install-deploy   the stack plus the deployment extra (mmdeploy, onnx, onnxruntime)
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install install-deploy demo test clean

install:
	VENV=$(abspath $(VENV)) bash tools/install.sh

install-deploy:
	VENV=$(abspath $(VENV)) DEPLOY=1 bash tools/install.sh

demo: install
	$(PY) tools/demo.py

test: install-deploy
	$(PY) -m pytest -n 2 tests

clean:
	rm -rf work_dirs .pytest_cache
