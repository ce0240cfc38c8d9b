"""Library code behind the stages: importable and testable without DVC."""
