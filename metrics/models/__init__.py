"""Models over indicator series: anomalies, forecasts, contributions (issue 3)."""
