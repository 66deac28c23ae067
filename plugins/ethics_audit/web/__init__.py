"""HTTP faces of the library without Airflow: Slack's interactivity endpoint and the Ethics pages.

``slack_actions`` handles button presses, ``pages`` renders the overview and audit pages from
the store, ``serve`` is the small FastAPI app of ``ethics-audit serve``. Access control is the
caller's: Slack's request signature here, Airflow's auth manager in ``ethics_audit.airflow.plugin``.
"""
