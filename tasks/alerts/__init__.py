"""Alerts: the controller told by email when a run fails, crashes, times out or runs late (Prefect automations
from automations.yaml calling the alert email block), and each morning's digest of the night's figures."""
