"""What the tests share: fixtures' building blocks and helpers, kept out of the test_* files."""
