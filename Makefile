.PHONY: demo test lint bench
demo:  ## set up and serve the console with demo data on SQLite
	bash scripts/demo.sh
test:  ## set up and run everything: lint, checks, SQLite, PostgreSQL, browser tests
	bash scripts/test.sh
lint:
	.venv/bin/ruff check .
