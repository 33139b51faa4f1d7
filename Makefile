# The two commands of a fresh machine: `make demo` (the main job on the embedded default) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
EXTRAS ?= dev,tflite,report,search,openvino,executorch,coreml
# what the demo needs (the three deployment runtimes add minutes to a fresh install and the demo uses none)
DEMO_EXTRAS ?= tflite,report,search
STAMP := $(VENV)/.installed-$(EXTRAS)

.PHONY: install demo lint test test-slow test-fast bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $(STAMP)

install: $(STAMP)

demo:
	$(MAKE) --no-print-directory install EXTRAS=$(DEMO_EXTRAS)
	$(VENV)/bin/ofa demo --out runs/demo

# The layer contracts ([tool.importlinter] in pyproject.toml) and ruff, run before the tests.
lint: $(STAMP)
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check .

# The OpenVINO / ExecuTorch / Core ML tests run in a pytest process of their own. In one process with the
# rest of the suite (dataset tests first), a later subprocess spawn crashed the whole process with SIGSEGV
# (reproduced 5 times on 2026-11-29; each part passes on its own). A user's export runs in its own process too.
RUNTIME_TESTS := tests/test_export_openvino.py tests/test_export_executorch.py tests/test_export_coreml.py \
	tests/test_devices_openvino.py tests/test_devices_coreml.py

test: lint
	$(PY) -m pytest -q -m "not slow" --durations=15 $(addprefix --ignore=,$(RUNTIME_TESTS))
	$(PY) -m pytest -q -m "not slow" --durations=5 $(RUNTIME_TESTS)

# Only the tests marked slow (10 s or more each), split like `test`; pytest's exit code 5 ("no test
# selected": no slow test in that half) is not a failure.
test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow --durations=15 $(addprefix --ignore=,$(RUNTIME_TESTS)) || [ $$? -eq 5 ]
	$(PY) -m pytest -q -m slow --durations=5 $(RUNTIME_TESTS) || [ $$? -eq 5 ]

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow" -x -k "not tflite and not ssh"

# The A/B benches against their references (official OFA package, PyTorch); JSON in
# bench/results/. The long ones (latency tables, recipes, fuzzing, ...) are listed in bench/README.md.
bench: $(STAMP)
	$(PY) bench/search_speed.py --repeats 3
	$(PY) bench/train_speed.py
	$(PY) bench/export_figures.py

clean:
	rm -rf $(VENV) runs .pytest_cache
