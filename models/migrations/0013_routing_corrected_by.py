from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0012_budget')]

    initial = False

    operations = [
        ops.AddField(
            model_name='RoutingCorrection',
            name='corrected_by',
            field=fields.IntField(null=True),
        ),
    ]
