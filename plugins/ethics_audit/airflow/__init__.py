"""The only part of the library that knows Airflow: connections -> URLs, and the DAG task helpers."""
