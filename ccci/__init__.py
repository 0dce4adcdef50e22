"""ccci: continuous integration for Co-op Cloud recipes."""
