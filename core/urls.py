from django.urls import path

from core import views

app_name = "security"

urlpatterns = [
    path("enrol/", views.enrol, name="enrol"),
    path("verify/", views.verify, name="verify"),
    path("confirm/", views.confirm, name="confirm"),
]
