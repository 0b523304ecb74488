"""What the tests share, one module per concern; no tests here. Fixtures are registered for the whole
suite by tests/conftest.py (`pytest_plugins`); plain helpers are imported. A test module imports from
here, never from another test module (tests/test_suite_shape.py checks)."""
