# The two set-up commands are `make run` and `make test`; both install what is missing first.
.PHONY: run test bench lock setup-run setup-test

PYTEST_ARGS ?=
LOCK_ARGS ?=

run: setup-run
	.venv/bin/gridgov run

test: setup-test
	.venv/bin/python -m pytest $(PYTEST_ARGS)

bench: setup-test
	.venv/bin/python -m bench $(BENCH_ARGS)

# Re-lock requirements.lock after changing pyproject.toml, or LOCK_ARGS=--upgrade for the newest of all.
lock:
	@scripts/lock.sh $(LOCK_ARGS)

setup-run:
	@scripts/setup.sh run

setup-test:
	@scripts/setup.sh test
