"""Business logic of the wallet. UI-free: the dashboard, the API, the workers and the tests share it."""
