"""ethics-audit: scheduled ethics audits of production ML models.

The library behind the CLI and the Airflow DAGs. Nothing heavy is imported here: the check
families import Great Expectations, Evidently and Fairlearn only when they run.
"""

__version__ = "0.1.0"
