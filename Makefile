# QTLens — the two commands of the README:
#   make serve   install everything, migrate the SQLite file, serve http://127.0.0.1:8000
#   make test    install test needs (Debian chromium when missing) and run the whole suite
# torch==2.13.0 (CPU build) is installed first so no dependency can pull a multi-GB CUDA torch.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_VERSION := 2.13.0
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: serve test install install-test chromium train-demo train-blackbox bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==$(TORCH_VERSION)

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test chromium

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; }

serve: install
	$(BIN)/qtlens db upgrade
	$(BIN)/qtlens users bootstrap --url http://$(HOST):$(PORT)
	$(BIN)/qtlens serve --host $(HOST) --port $(PORT)

test: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The shipped bundle: synthetic pretraining, then sim-to-real fine-tuning on the real development
# ECGs (QTLENS_DATA_DIR), then the composed task heads. Seed 0 throughout (deterministic on the CPU).
train-demo: install
	$(BIN)/qtlens train --preset demo --variant joint --seed 0 --out var/pretrain/demo-synthetic
	$(BIN)/qtlens train-real --base var/pretrain/demo-synthetic --seed 0 --out models/weights/demo
	$(BIN)/qtlens train-head --data ecgrdvq --out models/weights/heads/tdp-ecgrdvq
	$(BIN)/qtlens compose-bundle --base models/weights/demo --head lqts_risk=schwartz \
	    --head tdp_risk=models/weights/heads/tdp-ecgrdvq --out models/weights/demo
	$(BIN)/qtlens calibrate-bands --bundle models/weights/demo

# The black box every CBM-versus-black-box figure is measured against, and the shipped bundle's
# evaluation/ (as shipped, composed heads included) against it on 2 000 fresh synthetic records.
train-blackbox: install
	$(BIN)/qtlens train --preset demo --variant blackbox --seed 0 --out var/pretrain/demo-blackbox
	$(BIN)/qtlens evaluate models/weights/demo --baseline var/pretrain/demo-blackbox \
	    --data-seed 1000 --n-records 2000 --split all --out models/weights/demo/evaluation
	$(BIN)/qtlens evaluate models/weights/demo --real --out models/weights/demo/evaluation

bench: $(VENV)/.installed-test
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) var test-artifacts
