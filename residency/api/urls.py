from django.urls import path

from . import views

urlpatterns = [
    path("residency/decisions", views.DecisionApi.as_view(), name="api-decisions"),
    path("residency/decisions/batch", views.DecisionBatchApi.as_view(), name="api-decisions-batch"),
]
