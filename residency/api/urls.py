from django.urls import path

from . import analytics, change_requests, decisions, inference_residency, policy, usage, workspaces

urlpatterns = [
    path("residency/decisions", decisions.DecisionApi.as_view(), name="api-decisions"),
    path("residency/decisions/batch", decisions.DecisionBatchApi.as_view(), name="api-decisions-batch"),
    path("organizations/inference_residency", inference_residency.InferenceResidencyApi.as_view(),
         name="api-inference-residency"),
    path("organizations/data_residency_policy", policy.DataResidencyPolicyApi.as_view(),
         name="api-data-residency-policy"),
    path("organizations/residency_impact", policy.ResidencyImpactApi.as_view(), name="api-residency-impact"),
    path("organizations/workspaces", workspaces.WorkspaceListCreateApi.as_view(), name="api-workspaces"),
    path("organizations/workspaces/<str:workspace_id>", workspaces.WorkspaceDetailApi.as_view(),
         name="api-workspace"),
    path("organizations/workspaces/<str:workspace_id>/archive", workspaces.WorkspaceArchiveApi.as_view(),
         name="api-workspace-archive"),
    path("organizations/approval_settings", change_requests.ApprovalSettingsApi.as_view(),
         name="api-approval-settings"),
    path("organizations/change_requests", change_requests.ChangeRequestListApi.as_view(), name="api-change-requests"),
    path("organizations/change_requests/<str:change_request_id>", change_requests.ChangeRequestDetailApi.as_view(),
         name="api-change-request"),
    path("organizations/change_requests/<str:change_request_id>/approve",
         change_requests.ChangeRequestApproveApi.as_view(), name="api-change-request-approve"),
    path("organizations/change_requests/<str:change_request_id>/reject",
         change_requests.ChangeRequestRejectApi.as_view(), name="api-change-request-reject"),
    path("organizations/change_requests/<str:change_request_id>/withdraw",
         change_requests.ChangeRequestWithdrawApi.as_view(), name="api-change-request-withdraw"),
    path("organizations/usage_records", usage.UsageRecordIngestApi.as_view(), name="api-usage-records"),
    path("organizations/usage_report/messages", usage.UsageReportApi.as_view(), name="api-usage-report"),
    path("organizations/cost_report", usage.CostReportApi.as_view(), name="api-cost-report"),
    path("organizations/analytics/usage", analytics.AnalyticsUsageApi.as_view(), name="api-analytics-usage"),
    path("organizations/analytics/cost", analytics.AnalyticsCostApi.as_view(), name="api-analytics-cost"),
]
