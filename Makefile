# The two set-up commands are `make run` and `make test`; both install what is missing first.
.PHONY: run test bench setup-run setup-test

PYTEST_ARGS ?=

run: setup-run
	.venv/bin/gridgov run

test: setup-test
	.venv/bin/python -m pytest $(PYTEST_ARGS)

bench: setup-test
	.venv/bin/python -m bench $(BENCH_ARGS)

setup-run:
	@scripts/setup.sh run

setup-test:
	@scripts/setup.sh test
