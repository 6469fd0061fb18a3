# Two commands do all the set-up on a fresh machine:
#   make demo   installs the stack (first time ~20 min: mmcv is compiled) and runs the main job
#   make test   installs the stack and runs the test suite
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install demo test clean

install:
	VENV=$(abspath $(VENV)) bash tools/install.sh

demo: install
	$(PY) tools/demo.py

test: install
	$(PY) -m pytest -n 2 tests

clean:
	rm -rf work_dirs .pytest_cache
