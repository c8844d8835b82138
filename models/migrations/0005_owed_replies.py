from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0004_volunteers')]

    initial = False

    operations = [
        ops.AddField(
            model_name='PendingMessage',
            name='attempts',
            field=fields.IntField(default=0),
        ),
        ops.AddField(
            model_name='PendingMessage',
            name='claimed_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='PendingMessage',
            name='failure',
            field=fields.CharField(null=True, max_length=32),
        ),
    ]
