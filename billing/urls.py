from django.urls import path

from billing import views

app_name = "billing"

urlpatterns = [
    path("", views.plan_list, name="plans"),
    path("plans/<slug:slug>/", views.subscribe, name="subscribe"),
    path("account/<str:token>/", views.account, name="account"),
    path("account/<str:token>/pay/", views.account_pay, name="account_pay"),
    path("account/<str:token>/cancel/", views.account_cancel, name="account_cancel"),
    path("account/<str:token>/card/", views.account_card, name="account_card"),
    path("account/<str:token>/card/done/", views.account_card_done, name="account_card_done"),
]
