from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from models.residents import Role
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='AuditLog',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('actor', fields.CharField(max_length=64)),
                ('action', fields.CharField(max_length=64)),
                ('entity', fields.CharField(max_length=32)),
                ('entity_id', fields.CharField(max_length=64)),
                ('before', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('after', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'audit_log', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Community',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('slug', fields.CharField(unique=True, max_length=64)),
                ('name', fields.CharField(max_length=100)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'community', 'app': 'models', 'pk_attr': 'id', 'table_description': '社区: the unit one official account serves.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Grid',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('community', fields.ForeignKeyField('models.Community', source_field='community_id', db_constraint=True, to_field='id', related_name='grids', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=64)),
            ],
            options={'table': 'grid', 'app': 'models', 'unique_together': (('community', 'name'),), 'pk_attr': 'id', 'table_description': '网格: needs are found and hazards checked grid by grid.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Building',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('community', fields.ForeignKeyField('models.Community', source_field='community_id', db_constraint=True, to_field='id', related_name='buildings', on_delete=OnDelete.CASCADE)),
                ('grid', fields.ForeignKeyField('models.Grid', source_field='grid_id', null=True, db_constraint=True, to_field='id', related_name='buildings', on_delete=OnDelete.SET_NULL)),
                ('name', fields.CharField(max_length=32)),
            ],
            options={'table': 'building', 'app': 'models', 'unique_together': (('community', 'name'),), 'pk_attr': 'id', 'table_description': '楼栋.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Household',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('building', fields.ForeignKeyField('models.Building', source_field='building_id', db_constraint=True, to_field='id', related_name='households', on_delete=OnDelete.CASCADE)),
                ('unit', fields.CharField(default='', max_length=16)),
                ('room', fields.CharField(max_length=16)),
                ('floor_area', fields.DecimalField(null=True, max_digits=8, decimal_places=2)),
            ],
            options={'table': 'household', 'app': 'models', 'unique_together': (('building', 'unit', 'room'),), 'pk_attr': 'id', 'table_description': '户: one voice in household votes, with floor area for double-majority rules.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PendingMessage',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account', fields.CharField(max_length=64)),
                ('openid', fields.CharField(max_length=64)),
                ('text', fields.TextField(unique=False)),
                ('reason', fields.CharField(max_length=32)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'pending_message', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Resident',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('community', fields.ForeignKeyField('models.Community', source_field='community_id', db_constraint=True, to_field='id', related_name='residents', on_delete=OnDelete.CASCADE)),
                ('openid', fields.CharField(null=True, max_length=64)),
                ('unionid', fields.CharField(null=True, max_length=64)),
                ('name', fields.CharField(null=True, max_length=64)),
                ('phone', fields.CharField(null=True, max_length=32)),
                ('household', fields.ForeignKeyField('models.Household', source_field='household_id', null=True, db_constraint=True, to_field='id', related_name='residents', on_delete=OnDelete.SET_NULL)),
                ('verified', fields.BooleanField(default=False)),
                ('language', fields.CharField(default='zh_Hans', max_length=8)),
                ('active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('erased_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'resident', 'app': 'models', 'unique_together': (('community', 'openid'),), 'pk_attr': 'id', 'table_description': "A follower of the community's official account."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='BindingCode',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code', fields.CharField(unique=True, max_length=16)),
                ('household', fields.ForeignKeyField('models.Household', source_field='household_id', db_constraint=True, to_field='id', related_name='binding_codes', on_delete=OnDelete.CASCADE)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('used_by', fields.ForeignKeyField('models.Resident', source_field='used_by_id', null=True, db_constraint=True, to_field='id', related_name='binding_codes_used', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'binding_code', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A single-use code a community worker hands to one household (户号绑定码).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RoleAssignment',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('resident', fields.ForeignKeyField('models.Resident', source_field='resident_id', db_constraint=True, to_field='id', related_name='roles', on_delete=OnDelete.CASCADE)),
                ('role', fields.CharEnumField(description='RESIDENT: resident\nVOLUNTEER: volunteer\nGRID_WORKER: grid_worker\nCOMMUNITY_WORKER: community_worker\nADMIN: admin', enum_type=Role, max_length=24)),
                ('community', fields.ForeignKeyField('models.Community', source_field='community_id', db_constraint=True, to_field='id', related_name='role_assignments', on_delete=OnDelete.CASCADE)),
                ('grid', fields.ForeignKeyField('models.Grid', source_field='grid_id', null=True, db_constraint=True, to_field='id', related_name='role_assignments', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'role_assignment', 'app': 'models', 'unique_together': (('resident', 'role', 'community'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
