from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from models.residents import Role
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0002_proposals')]

    initial = False

    operations = [
        ops.CreateModel(
            name='RouterWeights',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('weights', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('corrections', fields.IntField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'router_weights', 'app': 'models', 'pk_attr': 'id', 'table_description': 'The latest trained routing weights, so every process routes alike.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Ticket',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('number', fields.CharField(unique=True, max_length=12)),
                ('community', fields.ForeignKeyField('models.Community', source_field='community_id', db_constraint=True, to_field='id', related_name='tickets', on_delete=OnDelete.CASCADE)),
                ('reporter', fields.ForeignKeyField('models.Resident', source_field='reporter_id', null=True, db_constraint=True, to_field='id', related_name='tickets', on_delete=OnDelete.SET_NULL)),
                ('anonymous', fields.BooleanField(default=False)),
                ('text', fields.TextField(unique=False)),
                ('media', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('location', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('household', fields.ForeignKeyField('models.Household', source_field='household_id', null=True, db_constraint=True, to_field='id', related_name='tickets', on_delete=OnDelete.SET_NULL)),
                ('building', fields.ForeignKeyField('models.Building', source_field='building_id', null=True, db_constraint=True, to_field='id', related_name='tickets', on_delete=OnDelete.SET_NULL)),
                ('grid', fields.ForeignKeyField('models.Grid', source_field='grid_id', null=True, db_constraint=True, to_field='id', related_name='tickets', on_delete=OnDelete.SET_NULL)),
                ('department', fields.CharField(db_index=True, max_length=32)),
                ('routing', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('emergency', fields.CharField(null=True, max_length=16)),
                ('status', fields.CharField(default='received', db_index=True, max_length=16)),
                ('accept_due_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('resolve_due_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('accepted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('resolved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('escalated_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('handler', fields.ForeignKeyField('models.Resident', source_field='handler_id', null=True, db_constraint=True, to_field='id', related_name='handled_tickets', on_delete=OnDelete.SET_NULL)),
                ('resolution', fields.TextField(null=True, unique=False)),
                ('resolution_photo', fields.CharField(null=True, max_length=128)),
                ('referral', fields.TextField(null=True, unique=False)),
                ('reopened', fields.IntField(default=0)),
                ('stars', fields.SmallIntField(null=True)),
                ('rating_comment', fields.TextField(null=True, unique=False)),
                ('duplicate_of', fields.ForeignKeyField('models.Ticket', source_field='duplicate_of_id', null=True, db_constraint=True, to_field='id', related_name='duplicates', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'ticket', 'app': 'models', 'pk_attr': 'id', 'table_description': "One complaint or request, from intake to the resident's rating."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RoutingCorrection',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('ticket', fields.ForeignKeyField('models.Ticket', source_field='ticket_id', null=True, db_constraint=True, to_field='id', related_name='corrections', on_delete=OnDelete.SET_NULL)),
                ('text', fields.TextField(unique=False)),
                ('routed', fields.CharField(max_length=32)),
                ('correct', fields.CharField(max_length=32)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'routing_correction', 'app': 'models', 'pk_attr': 'id', 'table_description': "A worker's reassignment: the text and the department it should have gone to."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TicketUpdate',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('ticket', fields.ForeignKeyField('models.Ticket', source_field='ticket_id', db_constraint=True, to_field='id', related_name='updates', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(max_length=24)),
                ('text', fields.TextField(default='', unique=False)),
                ('photo', fields.CharField(null=True, max_length=128)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'ticket_update', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A step the resident is told about: progress notes, resolution, referral.'},
            bases=['Model'],
        ),
        ops.AlterModelOptions(
            name='Notification',
            options={'table': 'notification', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A notice owed to residents about a proposal or a ticket, until the notices issue sends it.'},
        ),
        ops.AlterField(
            model_name='Notification',
            name='audience',
            field=fields.CharField(max_length=64),
        ),
        ops.AlterField(
            model_name='RoleAssignment',
            name='role',
            field=fields.CharEnumField(description='RESIDENT: resident\nVOLUNTEER: volunteer\nGRID_WORKER: grid_worker\nCOMMUNITY_WORKER: community_worker\nADMIN: admin\nHANDLER: handler', enum_type=Role, max_length=24),
        ),
        ops.AddField(
            model_name='RoleAssignment',
            name='department',
            field=fields.CharField(null=True, max_length=32),
        ),
    ]
