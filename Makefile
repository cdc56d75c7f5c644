# attachment-export: the verbs. `make demo` and `make test` are the two a newcomer needs.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

.PHONY: help setup up down test check unit demo bench build console screenshots deploy clean

help: ## List the verbs
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

setup: ## Install the pinned local tools into .local/ (idempotent)
	infra/local/install.sh

up: ## Start the local AWS stack and write .local/stack.env
	infra/local/up.sh

down: ## Stop everything `make up` started
	infra/local/down.sh

test: ## fmt, clippy -D warnings, and every test against a fresh local stack
	scripts/test.sh

bench: ## Measure the link maker, manifest writing, an export of N attachments (N=100000) and cold starts
	scripts/bench.sh

demo: ## Seed an account, export it through the API, download and verify every file (KEEP=1 keeps the stack)
	scripts/demo.sh

check: ## fmt, unused dependencies, clippy and asl-validator only
	infra/local/install.sh
	cargo fmt --all --check
	.local/tools/bin/cargo-machete
	cargo clippy --workspace --all-targets -- -D warnings
	infra/local/tools/validate_asl.sh

unit: ## Unit tests only (no local stack needed)
	cargo nextest run --workspace --lib --bins

LAMBDA_BINARIES := start-export start-export-api retrieve-export retrieve-export-api sweep-exports enumerate-attachments write-manifest download-export revoke-export revoke-export-api assistant

build: ## Release build of the ten Lambda functions (arm64), nothing else of the workspace
	infra/local/install.sh
	source .local/venv/bin/activate && cargo lambda build --release --arm64 $(addprefix --bin ,$(LAMBDA_BINARIES))

console: ## Build the administrators' console into console/dist (npm ci only when its lock changed)
	console/build.sh

screenshots: ## Save a PNG of each console screen to docs/console/ (needs `make up`)
	infra/local/install.sh
	console/screenshots.sh

deploy: ## Build and deploy the stack to AWS with SAM (guided; see docs/DEPLOY.md)
	scripts/deploy.sh

clean: down ## Stop the stack and remove .local/ and target/
	rm -rf .local target
