# Shortcuts for the README's commands. Only bash and Python 3.11 are needed; make is optional.
.PHONY: run test mutation bench-emulator bench-webhook bench-e2e bench-reconcile bench-reconcile-emulator bench-search
run:
	bash scripts/run
test:
	bash scripts/test
bench-emulator:
	.venv/bin/python bench/emulator_bench.py
bench-webhook:
	.venv/bin/python bench/webhook_bench.py
bench-e2e:
	.venv/bin/python bench/e2e_bench.py
bench-reconcile:
	.venv/bin/python bench/reconcile_bench.py
bench-reconcile-emulator:
	.venv/bin/python bench/reconcile_bench.py --emulator
bench-search:
	.venv/bin/python bench/search_bench.py
mutation:
	bash scripts/mutation
