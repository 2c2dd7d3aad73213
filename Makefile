# The two set-up commands of the README. Each creates or refreshes .venv by itself.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
OUT    ?= out/demo

.PHONY: demo test typecheck bench docs clean

$(STAMP): pyproject.toml constraints-cpu.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints-cpu.txt -e ".[dev]"
	touch $(STAMP)

# the quickstart (solve, certify, measure, figures), then the flagship study in quick mode
demo: $(STAMP)   ## encode games, solve them, measure exploitability, train agents, write figures
	@echo "== demo 1/2: quickstart (Cournot and Big Match: solve, certify, exact NashConv, figures)"
	$(BIN)/python -m analyses.quickstart --out $(OUT)
	@echo "== demo 2/2: quick Kyle study (MAPPO and MADDPG, 5 seeds each, exact NashConv, figures; a few minutes)"
	$(BIN)/gametools run kyle --quick --out $(OUT)/kyle
	@echo "== demo done: figures in $(OUT) and $(OUT)/kyle/figures"

# one BLAS/torch thread per test worker: two workers already fill two cores
test: $(STAMP)   ## the test suite (doctests included)
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

typecheck: $(STAMP)  ## static types of the package (mypy)
	$(BIN)/python -m mypy gametools games analyses

# quick versions; run a script without --quick for the full table
bench: $(STAMP)  ## benchmarks against peer libraries (prints tables with ratios)
	$(BIN)/python bench/bench_exploitability.py --quick
	$(BIN)/python bench/bench_normal_form.py --quick
	$(BIN)/python bench/bench_stochastic.py --quick
	$(BIN)/python bench/bench_marl.py --quick
	$(BIN)/python bench/bench_epymarl.py
	$(BIN)/python bench/bench_extensive.py
	$(BIN)/python bench/bench_market.py --quick
	$(BIN)/python bench/bench_robustness.py --quick

# the documentation site, warnings as errors, then a check that every internal link resolves
docs: $(STAMP)  ## build the documentation site into docs/_build/html
	MPLBACKEND=Agg $(BIN)/python -m sphinx -W --keep-going -b html -q docs docs/_build/html
	$(BIN)/python docs/check_links.py docs/_build/html

clean:
	rm -rf $(VENV) out docs/_build docs/_generated
