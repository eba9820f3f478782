"""Kept for the migrations only: they were written with ``arv.storage.TenantFileField``, which
now lives with the companies (``companies.storage``). Production code imports it from there."""

from companies.storage import TenantFileField

__all__ = ["TenantFileField"]
