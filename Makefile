# pyweb.ha: `make demo` brings up a local lab, `make test` runs what CI runs.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
# Molecule runs, in order; NAME:uwsgi runs scenario NAME with the uWSGI replicas.
SCENARIOS ?= single:uwsgi cluster

.PHONY: help bootstrap images demo demo-clean test lint sanity unit molecule clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

bootstrap: ## Install Docker, mmdebstrap, the venv and the collections where missing
	@scripts/bootstrap.sh

images: bootstrap ## Build the base images from the Debian and Ubuntu archives (kept when present)
	@images/build.sh
	@SUITE=noble images/build.sh host

demo: images ## Local lab: host containers deployed with playbooks/site.yml
	@scripts/demo.sh up

demo-clean: ## Remove the lab containers and volumes
	@scripts/demo.sh clean

lint: bootstrap ## ansible-lint (production), yamllint, ruff
	yamllint -s .
	ansible-lint --profile production
	ruff check plugins app tests scripts molecule roles/agent/files
	ruff format --check plugins app tests scripts molecule roles/agent/files
	python scripts/role_docs.py --check

sanity: bootstrap ## ansible-test sanity (on a copy of HEAD) and antsibull-changelog lint
	antsibull-changelog lint
	scripts/sanity.sh

unit: bootstrap ## pytest unit tests (filters, modules, app, load generator)
	pytest tests/unit

molecule: images ## Every Molecule scenario (SCENARIOS="single cluster ...")
	@for run in $(SCENARIOS); do \
	  s=$${run%%:*}; wsgi=gunicorn; [ "$$run" = "$$s" ] || wsgi=$${run#*:}; \
	  echo "==> molecule test -s $$s (WSGI server: $$wsgi)"; \
	  mkdir -p build; log=build/molecule-$$s.log; \
	  PYWEB_WSGI_SERVER=$$wsgi molecule test -s $$s 2>&1 | tee $$log; \
	  if [ "$${PIPESTATUS[0]}" != 0 ]; then \
	    echo "==> molecule test -s $$s failed; the failed checks (whole output: $$log):"; \
	    sed -n '/short test summary info/,/ passed\| failed/p' $$log | cut -c1-300; \
	    grep -E 'fatal: \[' $$log | cut -c1-600; \
	    exit 1; \
	  fi; \
	done

test: lint sanity unit molecule ## Everything CI runs

clean: demo-clean ## Remove build outputs and caches
	rm -rf build .cache
