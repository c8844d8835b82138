from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0009_scene_secrets')]

    initial = False

    operations = [
        ops.AddField(
            model_name='PendingMessage',
            name='key',
            field=fields.CharField(null=True, unique=True, max_length=160),
        ),
        ops.CreateModel(
            name='ConversationRow',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account', fields.CharField(max_length=64)),
                ('openid', fields.CharField(max_length=64)),
                ('name', fields.CharField(max_length=64)),
                ('data', fields.JSONField(default=dict)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'conversation', 'app': 'models', 'unique_together': (('account', 'openid'),), 'pk_attr': 'id', 'table_description': "A resident's place in a chat flow, gone when the flow ends or expires."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='HandledMessage',
            fields=[
                ('key', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=160)),
                ('reply', fields.TextField(default='')),
                ('handled_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'handled_message', 'app': 'models', 'pk_attr': 'key', 'table_description': 'One row per message that took effect, committed with that effect. ``reply`` is\n    what the resident was answered, so a message coming back is answered the same way.'},
            bases=['Model'],
        ),
    ]
