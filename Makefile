# Two commands do all the set-up on a fresh machine (see README):
#   make run    creates .venv, installs, shows this week's work, then runs the web app and the
#               scheduler together and prints the URL (make run NOW=2023-10-02T09:00: a fixed clock)
#   make test   creates .venv, installs with the test extras, runs ruff and the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: install run test mutation clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

run: install
	$(BIN)/veiligheid start $(if $(NOW),--now $(NOW))
	$(BIN)/veiligheid web --planner $(if $(NOW),--now $(NOW)) $(if $(PORT),--port $(PORT))

test: install
	$(BIN)/ruff check .
	$(BIN)/pytest -q

# Mutation testing of the pure core ([tool.mutmut] in pyproject.toml; score: README), two
# workers: ~15 min. Always from scratch: mutmut 3 keeps earlier verdicts and would only warn
# that a rule file changed. `mutmut results` lists the survivors, `mutmut show NAME` one diff.
mutation: install
	rm -rf mutants
	$(BIN)/mutmut run --max-children $(or $(JOBS),2)
	$(BIN)/mutmut results

clean:
	rm -rf $(VENV) var .pytest_cache mutants
