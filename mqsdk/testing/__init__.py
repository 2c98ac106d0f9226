"""Test helpers for mqsdk plugin authors (imported from their test suites, not at run time)."""
