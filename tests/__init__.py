"""The test suite, one folder per package it tests (tests/gis/core tests gis/core, …). Every folder is a
package, so a test module is `tests.gis.core.test_clock` and never shadows the real `gis`."""
