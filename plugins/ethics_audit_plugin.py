"""Registers ethics-audit's Airflow plugin (``ethics_audit.airflow.plugin``) with Airflow's plugin loader.

The loader imports every top-level ``.py`` file of the plugins folder; ``.airflowignore`` keeps
it out of the ``ethics_audit`` package itself, which is imported as a package from here.
"""

from __future__ import annotations

from ethics_audit.airflow.plugin import EthicsAuditPlugin

__all__ = ["EthicsAuditPlugin"]
