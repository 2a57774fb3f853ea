"""The pieces behind the pytest plugin (``harness.pytest_plugin``), one job per module.

* ``settings``: the command-line options and what they mean for the session's harness;
* ``session``: the session's harness, started on first use, reset per test, stopped at the end;
* ``handles``: the small objects the fixtures hand to tests (DNS, DynamoDB, health, faults);
* ``markers``: ``@pytest.mark.chaos(...)`` read and validated into faults;
* ``scenarios``: scenario YAML files collected as tests, and running a scenario from a test.
"""
