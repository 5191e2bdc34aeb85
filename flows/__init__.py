"""The Prefect flows the deployments in prefect.yaml run (nightly, dunning, autopay charges, disputes, promises,
sales and credit reviews, KPI reports), thin wrappers over tasks/, plus the `arpilot` command line and the demo."""
