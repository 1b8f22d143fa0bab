from decimal import Decimal

import pytest

from inventory.models import GpuModel
from tests.factories import ClusterFactory, gpu

pytestmark = pytest.mark.django_db

# (code, rated P of one 8-card server): 8 x FP16 sparse TFLOPS / 1000, exact.
EXPECTED_8_CARD_RATINGS = {
    "A100-80G": Decimal("4.992"),
    "A800-80G": Decimal("4.992"),
    "H100-80G": Decimal("15.832"),
    "H800-80G": Decimal("15.832"),
    "H200-141G": Decimal("15.832"),
    "H20-96G": Decimal("2.368"),
    "L40S-48G": Decimal("5.864"),
}


def test_catalog_has_every_domain_row():
    assert set(GpuModel.objects.values_list("code", flat=True)) == set(EXPECTED_8_CARD_RATINGS)


@pytest.mark.parametrize(("code", "expected"), sorted(EXPECTED_8_CARD_RATINGS.items()))
def test_rating_is_exact_for_every_catalog_row(code, expected):
    cluster = ClusterFactory(gpu_model=gpu(code), gpus_per_server=8, server_count=3)
    assert cluster.rated_p_per_server == expected
    assert cluster.rated_p == expected * 3


def test_rating_scales_with_cards_per_server():
    assert ClusterFactory(gpu_model=gpu("H800-80G"), gpus_per_server=4).rated_p_per_server == (
        Decimal("7.916")
    )


def test_gpu_models_endpoint_is_public_and_decimals_are_strings(api_client):
    response = api_client.get("/api/v1/gpu-models/")
    assert response.status_code == 200
    a800 = next(row for row in response.json() if row["code"] == "A800-80G")
    assert a800["fp16_sparse_tflops"] == "624.000"
    assert a800["fp16_dense_tflops"] == "312.000"
    assert a800["memory_gb"] == 80


def test_admin_can_edit_the_catalog(client, staff_user):
    staff_user.is_superuser = True
    staff_user.save()
    client.force_login(staff_user)
    row = gpu("H20-96G")
    page = client.get(f"/admin/inventory/gpumodel/{row.pk}/change/")
    assert page.status_code == 200
    response = client.post(
        f"/admin/inventory/gpumodel/{row.pk}/change/",
        {
            "code": "H20-96G",
            "name": "NVIDIA H20 96GB",
            "fp16_dense_tflops": "148",
            "fp16_sparse_tflops": "296",
            "memory_gb": "96",
            "memory_type": "HBM3",
            "form_factor": "SXM",
            "notes": "Export-compliant Hopper",
        },
    )
    assert response.status_code == 302
    assert GpuModel.objects.get(pk=row.pk).notes == "Export-compliant Hopper"
