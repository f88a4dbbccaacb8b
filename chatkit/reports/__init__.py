"""Reports (metrics from the conversation facts, CSV exports), QA reviews and the Prometheus
endpoint."""

from chatkit.reports.metrics import ReportQuery, Reports
from chatkit.reports.prometheus import PrometheusMetrics
from chatkit.reports.qa import QualityAssurance, Scorecard, load_scorecard

__all__ = ["PrometheusMetrics", "QualityAssurance", "ReportQuery", "Reports", "Scorecard",
           "load_scorecard"]
