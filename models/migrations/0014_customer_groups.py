from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0013_routing_corrected_by')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CustomerGroup',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('community', fields.ForeignKeyField('models.Community', source_field='community_id', db_constraint=True, to_field='id', related_name='customer_groups', on_delete=OnDelete.CASCADE)),
                ('chat_id', fields.CharField(max_length=64)),
                ('name', fields.CharField(max_length=64)),
                ('owner', fields.CharField(max_length=64)),
                ('scope', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'customer_group', 'app': 'models', 'unique_together': (('community', 'chat_id'),), 'pk_attr': 'id', 'table_description': 'A WeCom customer group (客户群) of residents, mostly WeChat users, where no robot may be.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='GroupDelivery',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('notice', fields.ForeignKeyField('models.Notice', source_field='notice_id', db_constraint=True, to_field='id', related_name='group_deliveries', on_delete=OnDelete.CASCADE)),
                ('group', fields.ForeignKeyField('models.CustomerGroup', source_field='group_id', db_constraint=True, to_field='id', related_name='deliveries', on_delete=OnDelete.CASCADE)),
                ('chat_id', fields.CharField(max_length=64)),
                ('owner', fields.CharField(max_length=64)),
                ('status', fields.CharField(default='pending', db_index=True, max_length=16)),
                ('failure', fields.CharField(null=True, max_length=32)),
                ('msgid', fields.CharField(null=True, db_index=True, max_length=128)),
                ('claim', fields.CharField(null=True, max_length=16)),
                ('attempts', fields.IntField(default=0)),
                ('not_before', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('submitted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('confirmed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('checked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'customer_group_delivery', 'app': 'models', 'unique_together': (('notice', 'group'),), 'pk_attr': 'id', 'table_description': 'One notice to one customer group, by one mass-sending task of its owner, at most once.'},
            bases=['Model'],
        ),
    ]
