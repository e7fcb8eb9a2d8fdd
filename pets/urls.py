from django.urls import path

from pets import views

app_name = "pets"

urlpatterns = [
    path("pets/", views.PetCollectionView.as_view(), name="pet-collection"),
    path("pets/<str:pet_id>/", views.PetDetailView.as_view(), name="pet-detail"),
    path("pets/<str:pet_id>/enrichment/", views.PetEnrichmentView.as_view(), name="pet-enrichment"),
    path("pets/<str:pet_id>/cancel/", views.PetCancelView.as_view(), name="pet-cancel"),
    path("redis/stats/", views.RedisStatsView.as_view(), name="redis-stats"),
]
