from django.urls import path

from payments.views import stripe_webhook

app_name = "payments"
urlpatterns = [
    path("webhook/", stripe_webhook, name="webhook"),
]
