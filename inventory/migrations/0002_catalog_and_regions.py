"""Load the GPU catalog (DOMAIN.md) and the data-centre regions."""

from decimal import Decimal

from django.db import migrations

GPU_MODELS = [
    # code, name, fp16 dense TFLOPS, fp16 sparse TFLOPS, memory GB, memory type, form factor, notes
    ("A100-80G", "NVIDIA A100 80GB", "312", "624", 80, "HBM2e", "SXM", "INT8 dense 624 TOPS"),
    (
        "A800-80G",
        "NVIDIA A800 80GB",
        "312",
        "624",
        80,
        "HBM2e",
        "SXM",
        "China variant of A100, NVLink 400 GB/s",
    ),
    ("H100-80G", "NVIDIA H100 80GB", "989", "1979", 80, "HBM3", "SXM", ""),
    (
        "H800-80G",
        "NVIDIA H800 80GB",
        "989",
        "1979",
        80,
        "HBM3",
        "SXM",
        "China variant of H100, NVLink 400 GB/s",
    ),
    ("H200-141G", "NVIDIA H200 141GB", "989", "1979", 141, "HBM3e", "SXM", ""),
    ("H20-96G", "NVIDIA H20 96GB", "148", "296", 96, "HBM3", "SXM", ""),
    ("L40S-48G", "NVIDIA L40S 48GB", "362", "733", 48, "GDDR6", "PCIe", ""),
]

REGIONS = [
    # code, name, name_zh, province
    ("beijing", "Beijing", "北京", "Beijing"),
    ("shanghai", "Shanghai", "上海", "Shanghai"),
    ("hefei", "Hefei", "合肥", "Anhui"),
    ("wuhu", "Wuhu", "芜湖", "Anhui"),
    ("jinan", "Jinan", "济南", "Shandong"),
    ("qinghai", "Qinghai", "青海", "Qinghai"),
    ("hangzhou", "Hangzhou", "杭州", "Zhejiang"),
    ("shenzhen", "Shenzhen", "深圳", "Guangdong"),
    ("guiyang", "Guiyang", "贵阳", "Guizhou"),
    ("ulanqab", "Ulanqab", "乌兰察布", "Inner Mongolia"),
    ("qingyang", "Qingyang", "庆阳", "Gansu"),
    ("zhongwei", "Zhongwei", "中卫", "Ningxia"),
    ("chengdu", "Chengdu", "成都", "Sichuan"),
    ("wuhan", "Wuhan", "武汉", "Hubei"),
]


def load(apps, schema_editor):
    GpuModel = apps.get_model("inventory", "GpuModel")
    Region = apps.get_model("inventory", "Region")
    for code, name, dense, sparse, memory, memory_type, form, notes in GPU_MODELS:
        GpuModel.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "fp16_dense_tflops": Decimal(dense),
                "fp16_sparse_tflops": Decimal(sparse),
                "memory_gb": memory,
                "memory_type": memory_type,
                "form_factor": form,
                "notes": notes,
            },
        )
    for code, name, name_zh, province in REGIONS:
        Region.objects.update_or_create(
            code=code, defaults={"name": name, "name_zh": name_zh, "province": province}
        )


def unload(apps, schema_editor):
    apps.get_model("inventory", "GpuModel").objects.filter(
        code__in=[row[0] for row in GPU_MODELS], clusters__isnull=True
    ).delete()
    apps.get_model("inventory", "Region").objects.filter(
        code__in=[row[0] for row in REGIONS], clusters__isnull=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("inventory", "0001_initial")]

    operations = [migrations.RunPython(load, unload)]
