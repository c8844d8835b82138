from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0006_notices')]

    initial = False

    operations = [
        ops.CreateModel(
            name='WeComUser',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('corp_id', fields.CharField(max_length=64)),
                ('userid', fields.CharField(max_length=64)),
                ('resident', fields.ForeignKeyField('models.Resident', source_field='resident_id', db_constraint=True, to_field='id', related_name='wecom_users', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'wecom_user', 'app': 'models', 'unique_together': (('corp_id', 'userid'),), 'pk_attr': 'id', 'table_description': 'The WeCom account of a community worker: the userid WeCom sends as FromUserName.'},
            bases=['Model'],
        ),
    ]
