"""Test helpers shared by the apps' test suites (not imported by production code)."""
