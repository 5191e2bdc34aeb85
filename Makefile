# arpilot: two commands for a new user (see README.md).
#   make demo   run the nightly job end to end on a generated sample ERP
#   make test   run the test suite (SQLite and a throwaway local PostgreSQL)
#   make ui     browse the demo's runs and artifacts in the Prefect UI on http://127.0.0.1:4200
#   make portal the pay portal over the demo's warehouse, with a local Stripe, on http://127.0.0.1:8000
# Both install what they need: the virtual environment with pinned packages, and the Debian packages
# below when they are missing (as root; otherwise they print the apt-get command to run).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

# Prefect keeps its state inside the checkout, never in the user's home; the demo and `make ui` share it.
export PREFECT_HOME := $(CURDIR)/var/prefect
export PREFECT_SERVER_ANALYTICS_ENABLED := false
unexport PREFECT_API_URL

DEMO_PACKAGES := chromium libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core fonts-droid-fallback
TEST_PACKAGES := $(DEMO_PACKAGES) postgresql

.PHONY: demo test ui portal system-packages-demo system-packages-test clean

# The demo prints its own summary; Prefect's per-task log lines stay in the UI (make ui), warnings still show.
demo: system-packages-demo $(INSTALLED)
	PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL=WARNING $(BIN)/arpilot demo

# Three workers (pytest-xdist) on 2 cores: most tests wait on servers, subprocesses and polls, so a third keeps
# both cores busy while two wait.
# A module marked with an xdist_group runs on one worker, so its expensive module fixtures are built once.
test: system-packages-test $(INSTALLED)
	$(BIN)/python -m pytest -n 3 --dist loadgroup

ui: $(INSTALLED)
	@mkdir -p "$(PREFECT_HOME)"
	$(BIN)/prefect server start --host 127.0.0.1 --port 4200

# The demo's reminders link here: open the Pay now link of any email in var/demo/outbox/mail.
portal: $(INSTALLED)
	$(BIN)/arpilot serve --sandbox --port 8000

$(INSTALLED): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "arpilot needs Python 3.11 or newer; this is " + sys.version.split()[0])'
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || $(MAKE) --no-print-directory apt PACKAGES=python3-venv
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[test,sandbox,dask]"
	@touch $@

system-packages-demo:
	@$(MAKE) --no-print-directory apt PACKAGES="$(DEMO_PACKAGES)"

system-packages-test:
	@$(MAKE) --no-print-directory apt PACKAGES="$(TEST_PACKAGES)"

# Install the Debian packages in PACKAGES that are missing; as a non-root user, say how instead.
.PHONY: apt
apt:
	@missing=""; \
	for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if ! command -v apt-get >/dev/null; then \
	  echo "arpilot needs these Debian/Ubuntu packages (or your system's equivalents):$$missing"; exit 1; \
	fi; \
	if [ "$$(id -u)" -ne 0 ]; then \
	  echo "arpilot needs system packages that are not installed. Run:"; \
	  echo "  sudo apt-get update && sudo apt-get install -y$$missing"; \
	  echo "then run make again."; exit 1; \
	fi; \
	echo "Installing system packages:$$missing"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null

clean:
	rm -rf var $(VENV)
