from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Notification',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('community', fields.ForeignKeyField('models.Community', source_field='community_id', db_constraint=True, to_field='id', related_name='notifications', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(max_length=32)),
                ('audience', fields.CharField(max_length=16)),
                ('subject', fields.CharField(max_length=32)),
                ('subject_id', fields.IntField()),
                ('payload', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'notification', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A notice owed to residents about a proposal, until the notices issue sends it.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Proposal',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('community', fields.ForeignKeyField('models.Community', source_field='community_id', db_constraint=True, to_field='id', related_name='proposals', on_delete=OnDelete.CASCADE)),
                ('proposer', fields.ForeignKeyField('models.Resident', source_field='proposer_id', null=True, db_constraint=True, to_field='id', related_name='proposals', on_delete=OnDelete.SET_NULL)),
                ('title', fields.CharField(max_length=100)),
                ('description', fields.TextField(unique=False)),
                ('category', fields.CharField(max_length=24)),
                ('status', fields.CharField(default='draft', db_index=True, max_length=24)),
                ('scope', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('photos', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('estimated_cost', fields.DecimalField(null=True, max_digits=12, decimal_places=2)),
                ('funding', fields.CharField(null=True, max_length=24)),
                ('rejection_reason', fields.TextField(null=True, unique=False)),
                ('publicity_days', fields.IntField(default=5)),
                ('published_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('voting_opened_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('voting_ends_at', fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False)),
                ('rule', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('eligible_count', fields.IntField(null=True)),
                ('eligible_area', fields.DecimalField(null=True, max_digits=14, decimal_places=2)),
                ('result', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('rating_sum', fields.IntField(default=0)),
                ('rating_count', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'proposal', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A livelihood project or a rectification, from draft to rating.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Comment',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('proposal', fields.ForeignKeyField('models.Proposal', source_field='proposal_id', db_constraint=True, to_field='id', related_name='comments', on_delete=OnDelete.CASCADE)),
                ('resident', fields.ForeignKeyField('models.Resident', source_field='resident_id', null=True, db_constraint=True, to_field='id', related_name='comments', on_delete=OnDelete.SET_NULL)),
                ('text', fields.TextField(unique=False)),
                ('hidden_reason', fields.TextField(null=True, unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'proposal_comment', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A comment during publicity. Moderation hides it with a reason, never deletes.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Elector',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('proposal', fields.ForeignKeyField('models.Proposal', source_field='proposal_id', db_constraint=True, to_field='id', related_name='electors', on_delete=OnDelete.CASCADE)),
                ('key', fields.CharField(max_length=24)),
                ('household', fields.ForeignKeyField('models.Household', source_field='household_id', null=True, db_constraint=True, to_field='id', related_name='electors', on_delete=OnDelete.SET_NULL)),
                ('area', fields.DecimalField(default=0, max_digits=8, decimal_places=2)),
            ],
            options={'table': 'proposal_elector', 'app': 'models', 'unique_together': (('proposal', 'key'),), 'pk_attr': 'id', 'table_description': 'One voice frozen when voting opened: a household (or a resident, by rule).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ProgressUpdate',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('proposal', fields.ForeignKeyField('models.Proposal', source_field='proposal_id', db_constraint=True, to_field='id', related_name='progress', on_delete=OnDelete.CASCADE)),
                ('author', fields.ForeignKeyField('models.Resident', source_field='author_id', null=True, db_constraint=True, to_field='id', related_name='progress_updates', on_delete=OnDelete.SET_NULL)),
                ('text', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'proposal_progress', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Rating',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('proposal', fields.ForeignKeyField('models.Proposal', source_field='proposal_id', db_constraint=True, to_field='id', related_name='ratings', on_delete=OnDelete.CASCADE)),
                ('household', fields.ForeignKeyField('models.Household', source_field='household_id', db_constraint=True, to_field='id', related_name='ratings', on_delete=OnDelete.CASCADE)),
                ('stars', fields.SmallIntField()),
                ('comment', fields.TextField(default='', unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'proposal_rating', 'app': 'models', 'unique_together': (('proposal', 'household'),), 'pk_attr': 'id', 'table_description': 'One rating per household: a re-rating replaces it.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Vote',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('proposal', fields.ForeignKeyField('models.Proposal', source_field='proposal_id', db_constraint=True, to_field='id', related_name='votes', on_delete=OnDelete.CASCADE)),
                ('elector', fields.ForeignKeyField('models.Elector', source_field='elector_id', db_constraint=True, to_field='id', related_name='votes', on_delete=OnDelete.CASCADE)),
                ('choice', fields.CharField(max_length=8)),
                ('resident', fields.ForeignKeyField('models.Resident', source_field='resident_id', null=True, db_constraint=True, to_field='id', related_name='votes', on_delete=OnDelete.SET_NULL)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'proposal_vote', 'app': 'models', 'unique_together': (('proposal', 'elector'),), 'pk_attr': 'id', 'table_description': 'The current voice of one elector. A change overwrites it and goes to the audit log.'},
            bases=['Model'],
        ),
    ]
