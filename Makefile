# make install: a virtual environment in .venv with every distribution of this
#               repository installed editable, plus the test tools (quick when nothing
#               changed: it reinstalls only when a pyproject.toml or requirements file is
#               newer than the last install)
# make test:    install, then pytest over tests/ on two workers (pytest-xdist; the test
#               files are spread over the workers, longest first (tests/scheduling.py),
#               a file's tests stay on one worker so its module and class fixtures start
#               once); one worker and no xdist with make test PYTEST_ARGS=-n0
# make coverage: the same run measured by coverage.py (branch coverage of every
#               cloudmesh-* distribution, the cms processes the tests start included);
#               a report on the terminal and htmlcov/
# make demo:    install, then scripts/demo.sh: 'cms sandbox start' (moto's EC2, an SSH
#               server playing its VMs, a Multipass stand-in, all on 127.0.0.1), a cms
#               session and the lab's Python programs over it, 'cms sandbox stop'
# make bench:   install, then the benchmark suite (see README, Performance)

# bytecode is written as in a user's shell: with PYTHONDONTWRITEBYTECODE (set on the
# machines this project is developed on) every cms process the tests start compiles
# cms's modules again, and each pytest rewrites every plugin's asserts (hypothesis: 3 s)
unexport PYTHONDONTWRITEBYTECODE

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DISTS  := $(sort $(wildcard cloudmesh-*/pyproject.toml))
STAMP  := $(VENV)/.installed

.PHONY: install test coverage test-live demo bench clean

install: $(STAMP)

$(STAMP): $(DISTS) requirements-dev.txt Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	# cloudmesh-compute first: the providers depend on it
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-build-isolation \
		-e ./cloudmesh-compute $(patsubst %/pyproject.toml,-e ./%,$(filter-out cloudmesh-compute/%,$(DISTS)))
	@touch $(STAMP)

# two workers: this project's CI machines have two cores ('auto' would start one per
# core of a larger machine, where fixtures' start-up outweighs the gain)
TEST_WORKERS ?= 2

test: install
	CMS_REQUIRE_SSHD=1 $(BIN)/python -m pytest tests -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

# .coveragerc: branch = True, patch = subprocess (each process the tests start measures
# itself into the same data file, whatever its working directory)
coverage: install
	COVERAGE_FILE=$(abspath .coverage) CMS_REQUIRE_SSHD=1 $(BIN)/python -m pytest tests \
		-n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --cov=cloudmesh \
		--cov-config=.coveragerc --cov-report=term --cov-report=html $(PYTEST_ARGS)

# make test-live: the conformance suite against the real clouds of your cloudmesh.yaml
# named in CMS_LIVE_CLOUDS (comma separated); it costs money (README, "Before a lab")
test-live: install
	$(BIN)/python -m pytest tests/test_live.py -m live -p no:cacheprovider $(PYTEST_ARGS)

demo: install
	PATH="$(abspath $(BIN)):$$PATH" bash scripts/demo.sh

# awscli is a bench-only dependency (the AWS CLI the suite compares with); a stamp keeps
# the reinstall quiet and quick when benchmarks/requirements.txt has not changed
BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): benchmarks/requirements.txt $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r benchmarks/requirements.txt
	@touch $(BENCH_STAMP)

bench: install $(BENCH_STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .coverage .coverage.* htmlcov
