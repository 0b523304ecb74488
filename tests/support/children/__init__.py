"""Code that runs in child processes of the concurrency and kill tests (importable under `spawn` and
`forkserver`): one module per feature under test."""
