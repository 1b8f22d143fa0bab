# Payout statements with VAT: collected (tax included) = net of VAT + VAT; what commission is
# taken on; payable. Existing rows keep their figures (gross -> collected, net -> payable).

from decimal import ROUND_HALF_UP, Decimal

import django.db.models.expressions
import django.db.models.functions.math
from django.conf import settings
from django.db import migrations, models

FEN = Decimal("0.01")


def split_existing_rows(apps, schema_editor):
    rate = Decimal(settings.VAT_RATE)
    for name in ("PayoutLine", "PayoutStatement"):
        model = apps.get_model("billing", name)
        for row in model.objects.all().only("pk", "collected").iterator():
            net = (row.collected / (1 + rate)).quantize(FEN, rounding=ROUND_HALF_UP)
            model.objects.filter(pk=row.pk).update(
                collected_net_of_vat=net, vat=row.collected - net, commission_base="collected"
            )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_merge_0004_task_outbox_0005_api_tokens_from_authtoken"),
        ("billing", "0005_fapiao_requests"),
        ("marketplace", "0002_translatable_labels"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="payoutline",
            name="payout_line_net",
        ),
        migrations.RemoveConstraint(
            model_name="payoutstatement",
            name="payout_net_is_gross_less_deductions",
        ),
        migrations.RenameField(
            model_name="payoutline",
            old_name="gross",
            new_name="collected",
        ),
        migrations.RenameField(
            model_name="payoutline",
            old_name="net",
            new_name="payable",
        ),
        migrations.RenameField(
            model_name="payoutstatement",
            old_name="gross",
            new_name="collected",
        ),
        migrations.RenameField(
            model_name="payoutstatement",
            old_name="net",
            new_name="payable",
        ),
        migrations.AddField(
            model_name="payoutline",
            name="collected_net_of_vat",
            field=models.DecimalField(decimal_places=2, default=0, max_digits=16),
        ),
        migrations.AddField(
            model_name="payoutline",
            name="commission_base",
            field=models.CharField(
                choices=[
                    ("net_of_vat", "the amount collected, excluding VAT"),
                    ("collected", "the amount collected, tax included"),
                ],
                default="net_of_vat",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="payoutline",
            name="vat",
            field=models.DecimalField(decimal_places=2, default=0, max_digits=16),
        ),
        migrations.AddField(
            model_name="payoutstatement",
            name="commission_base",
            field=models.CharField(
                choices=[
                    ("net_of_vat", "the amount collected, excluding VAT"),
                    ("collected", "the amount collected, tax included"),
                ],
                default="net_of_vat",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="payoutstatement",
            name="collected_net_of_vat",
            field=models.DecimalField(decimal_places=2, default=0, max_digits=16),
        ),
        migrations.AddField(
            model_name="payoutstatement",
            name="vat",
            field=models.DecimalField(decimal_places=2, default=0, max_digits=16),
        ),
        # Rows written before: commission was taken on the amount collected, tax included;
        # split what was collected into VAT and the rest at the VAT rate of the time.
        migrations.RunPython(split_existing_rows, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="payoutline",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "collected",
                        django.db.models.functions.math.Round(
                            django.db.models.expressions.CombinedExpression(
                                models.F("collected_net_of_vat"), "+", models.F("vat")
                            ),
                            2,
                        ),
                    )
                ),
                name="payout_line_collected_is_net_plus_vat",
            ),
        ),
        migrations.AddConstraint(
            model_name="payoutline",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "payable",
                        django.db.models.functions.math.Round(
                            django.db.models.expressions.CombinedExpression(
                                django.db.models.expressions.CombinedExpression(
                                    models.F("collected"), "-", models.F("commission")
                                ),
                                "-",
                                models.F("sla_withheld"),
                            ),
                            2,
                        ),
                    )
                ),
                name="payout_line_payable_is_collected_less_deductions",
            ),
        ),
        migrations.AddConstraint(
            model_name="payoutline",
            constraint=models.CheckConstraint(
                condition=models.Q(("commission_base__in", ["net_of_vat", "collected"])),
                name="payout_line_commission_base_known",
            ),
        ),
        migrations.AddConstraint(
            model_name="payoutstatement",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "collected",
                        django.db.models.functions.math.Round(
                            django.db.models.expressions.CombinedExpression(
                                models.F("collected_net_of_vat"), "+", models.F("vat")
                            ),
                            2,
                        ),
                    )
                ),
                name="payout_collected_is_net_plus_vat",
            ),
        ),
        migrations.AddConstraint(
            model_name="payoutstatement",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "payable",
                        django.db.models.functions.math.Round(
                            django.db.models.expressions.CombinedExpression(
                                django.db.models.expressions.CombinedExpression(
                                    models.F("collected"), "-", models.F("commission")
                                ),
                                "-",
                                models.F("sla_withheld"),
                            ),
                            2,
                        ),
                    )
                ),
                name="payout_payable_is_collected_less_deductions",
            ),
        ),
        migrations.AddConstraint(
            model_name="payoutstatement",
            constraint=models.CheckConstraint(
                condition=models.Q(("commission_base__in", ["net_of_vat", "collected"])),
                name="payout_commission_base_known",
            ),
        ),
    ]
