"""Coursepack: versioned compliance-training packages."""
