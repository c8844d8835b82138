from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0010_inbox')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Media',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('community', fields.ForeignKeyField('models.Community', source_field='community_id', db_constraint=True, to_field='id', related_name='media', on_delete=OnDelete.CASCADE)),
                ('uploader', fields.ForeignKeyField('models.Resident', source_field='uploader_id', null=True, db_constraint=True, to_field='id', related_name='uploads', on_delete=OnDelete.SET_NULL)),
                ('kind', fields.CharField(max_length=8)),
                ('content_type', fields.CharField(max_length=48)),
                ('size', fields.IntField()),
                ('width', fields.IntField(null=True)),
                ('height', fields.IntField(null=True)),
                ('sha256', fields.CharField(max_length=64)),
                ('storage_key', fields.CharField(max_length=128)),
                ('subject', fields.CharField(null=True, max_length=24)),
                ('subject_id', fields.CharField(null=True, max_length=24)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'media', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One upload. ``id`` is an unguessable token, and ``subject`` and ``subject_id`` name the'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Reminder',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('proposal', fields.ForeignKeyField('models.Proposal', source_field='proposal_id', db_constraint=True, to_field='id', related_name='reminders', on_delete=OnDelete.CASCADE)),
                ('household', fields.ForeignKeyField('models.Household', source_field='household_id', db_constraint=True, to_field='id', related_name='reminders', on_delete=OnDelete.CASCADE)),
                ('day', fields.CharField(max_length=10)),
                ('sent_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'canvass_reminder', 'app': 'models', 'unique_together': (('proposal', 'household', 'day'),), 'pk_attr': 'id', 'table_description': 'At most one gap reminder per household, vote and day: the unique key says so.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Visit',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('proposal', fields.ForeignKeyField('models.Proposal', source_field='proposal_id', db_constraint=True, to_field='id', related_name='visits', on_delete=OnDelete.CASCADE)),
                ('household', fields.ForeignKeyField('models.Household', source_field='household_id', db_constraint=True, to_field='id', related_name='visits', on_delete=OnDelete.CASCADE)),
                ('worker', fields.ForeignKeyField('models.Resident', source_field='worker_id', null=True, db_constraint=True, to_field='id', related_name='visits_made', on_delete=OnDelete.SET_NULL)),
                ('outcome', fields.CharField(max_length=16)),
                ('choice', fields.CharField(null=True, max_length=8)),
                ('respondent', fields.CharField(default='', max_length=64)),
                ('method', fields.CharField(null=True, max_length=8)),
                ('media', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('note', fields.TextField(default='', unique=False)),
                ('visited_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('recorded_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'canvass_visit', 'app': 'models', 'pk_attr': 'id', 'table_description': "One call at one household's door for one vote, answered or not."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Dispute',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('proposal', fields.ForeignKeyField('models.Proposal', source_field='proposal_id', db_constraint=True, to_field='id', related_name='disputes', on_delete=OnDelete.CASCADE)),
                ('household', fields.ForeignKeyField('models.Household', source_field='household_id', db_constraint=True, to_field='id', related_name='disputes', on_delete=OnDelete.CASCADE)),
                ('resident', fields.ForeignKeyField('models.Resident', source_field='resident_id', null=True, db_constraint=True, to_field='id', related_name='disputes', on_delete=OnDelete.SET_NULL)),
                ('visit', fields.ForeignKeyField('models.Visit', source_field='visit_id', null=True, db_constraint=True, to_field='id', related_name='disputes', on_delete=OnDelete.SET_NULL)),
                ('reason', fields.TextField(default='', unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('resolved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('resolution', fields.TextField(null=True, unique=False)),
            ],
            options={'table': 'canvass_dispute', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A bound resident says the answer recorded for their household is not theirs.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='AuditLog',
            name='chain',
            field=fields.CharField(null=True, db_index=True, max_length=48),
        ),
        ops.AddField(
            model_name='AuditLog',
            name='digest',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name='AuditLog',
            name='prev',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name='Household',
            name='head_name',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name='Household',
            name='head_phone',
            field=fields.CharField(null=True, max_length=32),
        ),
        ops.AddField(
            model_name='Vote',
            name='channel',
            field=fields.CharField(null=True, default='online', max_length=12),
        ),
        ops.AddField(
            model_name='Vote',
            name='recorded_by',
            field=fields.ForeignKeyField('models.Resident', source_field='recorded_by_id', null=True, db_constraint=True, to_field='id', related_name='votes_recorded', on_delete=OnDelete.SET_NULL),
        ),
    ]
