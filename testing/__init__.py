"""Helpers for testing Otvet plugins: the storage contract suite (``storage_contract``)."""
