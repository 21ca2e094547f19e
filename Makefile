# Two commands for a fresh machine with Python 3.10+ and make:
#   make lab    create .venv, install the course, open it in JupyterLab
#   make test   create .venv, install the course and its test tools, run every test
# Options: PYTHON=python3.13 (the interpreter), VENV=.venv-py3.13 (a venv folder of its own),
# PYTEST_ARGS="tests -m 'not slow'" (what pytest runs), CONSTRAINTS=file (pip --constraint,
# e.g. .ci/minimum-versions.txt for the oldest versions pyproject.toml allows),
# ARGS="--no-browser --port=8899" (more JupyterLab options for make lab).
PYTHON ?= python3
VENV ?= .venv
PYTEST_ARGS ?=
CONSTRAINTS ?=
ARGS ?=
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup lab test benchmark clean

# In a git checkout, setup also installs a git filter that strips notebook outputs from what git
# sees (nbstripout, keeping the cell ids nbgrader relies on, dropping the Python version a run
# records), so that running a lesson leaves the checkout clean. It
# is not required: should the venv go, git takes notebooks as they are.
$(STAMP): pyproject.toml $(CONSTRAINTS)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "nnlib needs Python 3.10 or newer; run: make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,browser,instructor]" \
		$(if $(CONSTRAINTS),--constraint $(CONSTRAINTS))
	if git rev-parse --git-dir >/dev/null 2>&1 && ! git config filter.nbstripout.clean >/dev/null; then \
		git config filter.nbstripout.clean \
			"$(BIN)/python -m nbstripout --keep-id --extra-keys metadata.language_info.version" && \
		git config filter.nbstripout.smudge cat && \
		git config filter.nbstripout.required false && \
		attributes=$$(git rev-parse --git-path info/attributes) && mkdir -p "$$(dirname "$$attributes")" && \
		echo '*.ipynb filter=nbstripout' >> "$$attributes"; fi
	touch $@

setup: $(STAMP)

# The course folder is the root of JupyterLab's file browser, so that exercises/ is reachable;
# given only a file, JupyterLab would serve that file's folder (notebooks/) alone. As root (in a
# container) JupyterLab refuses to start unless given --allow-root.
lab: setup
	$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" $(if $(filter 0,$(shell id -u)),--allow-root) \
		$(ARGS) notebooks/00_welcome.ipynb

# One BLAS thread for the tests: on a shared two-core machine, OpenBLAS threads that spin while
# waiting for a busy core slowed the notebooks' training a hundredfold; one thread is as fast
# for these sizes. (The benchmark keeps the default: it measures the machine.)
test: setup
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m pytest $(PYTEST_ARGS)

benchmark: setup
	$(BIN)/python benchmarks/train_mnist.py

# The student edition: the folder and zip to publish to students, without solutions/, hidden
# tests or nbgrader configuration (solutions/student_edition.py; the standard library suffices).
.PHONY: student-edition
student-edition:
	$(PYTHON) solutions/student_edition.py

clean:
	rm -rf $(VENV)
