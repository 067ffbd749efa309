.PHONY: demo test lint bench
demo:  ## set up and serve the console with demo data on SQLite
	bash scripts/demo.sh
test:  ## set up and run everything: lint, checks, SQLite, PostgreSQL, browser tests
	bash scripts/test.sh
lint:
	.venv/bin/ruff check .
bench:  ## usage and audit benchmarks at 1,000,000 rows on SQLite and PostgreSQL (see benchmarks/RESULTS.md)
	for b in usage audit; do for db in sqlite postgres; do bash benchmarks/run.sh $$b $$db; done; done
