"""Molecular dynamics with ASE and the stability harness."""
