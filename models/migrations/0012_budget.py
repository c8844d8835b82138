from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0011_canvass')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Round',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('community', fields.ForeignKeyField('models.Community', source_field='community_id', db_constraint=True, to_field='id', related_name='budget_rounds', on_delete=OnDelete.CASCADE)),
                ('year', fields.IntField()),
                ('title', fields.CharField(max_length=100)),
                ('status', fields.CharField(default='collection', db_index=True, max_length=16)),
                ('phases', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('rule_name', fields.CharField(max_length=32)),
                ('rule', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('ordering_opened_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('ordering_ends_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('eligible_count', fields.IntField(null=True)),
                ('result', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'budget_round', 'app': 'models', 'unique_together': (('community', 'year'),), 'pk_attr': 'id', 'table_description': "One community's round for one year, from collection to the year-end report."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='BallotVisit',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('round', fields.ForeignKeyField('models.Round', source_field='round_id', db_constraint=True, to_field='id', related_name='visits', on_delete=OnDelete.CASCADE)),
                ('household', fields.ForeignKeyField('models.Household', source_field='household_id', db_constraint=True, to_field='id', related_name='ballot_visits', on_delete=OnDelete.CASCADE)),
                ('worker', fields.ForeignKeyField('models.Resident', source_field='worker_id', null=True, db_constraint=True, to_field='id', related_name='ballot_visits', on_delete=OnDelete.SET_NULL)),
                ('outcome', fields.CharField(max_length=16)),
                ('items', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('respondent', fields.CharField(default='', max_length=64)),
                ('method', fields.CharField(null=True, max_length=8)),
                ('media', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('note', fields.TextField(default='', unique=False)),
                ('visited_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('recorded_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'budget_visit', 'app': 'models', 'pk_attr': 'id', 'table_description': "One call at one household's door for the round: a paper ballot or the reason none."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='BudgetElector',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('round', fields.ForeignKeyField('models.Round', source_field='round_id', db_constraint=True, to_field='id', related_name='electors', on_delete=OnDelete.CASCADE)),
                ('household', fields.ForeignKeyField('models.Household', source_field='household_id', db_constraint=True, to_field='id', related_name='budget_electors', on_delete=OnDelete.CASCADE)),
            ],
            options={'table': 'budget_elector', 'app': 'models', 'unique_together': (('round', 'household'),), 'pk_attr': 'id', 'table_description': 'A household frozen into the round when ordering opened: the denominator.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='FundSource',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('round', fields.ForeignKeyField('models.Round', source_field='round_id', db_constraint=True, to_field='id', related_name='sources', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(max_length=16)),
                ('name', fields.CharField(default='', max_length=100)),
                ('amount', fields.DecimalField(max_digits=12, decimal_places=2)),
            ],
            options={'table': 'budget_source', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Where part of the fund comes from (区级, 街道, 上级补助, 居民自筹, 捐赠, 社区基金会).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MenuItem',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('round', fields.ForeignKeyField('models.Round', source_field='round_id', db_constraint=True, to_field='id', related_name='items', on_delete=OnDelete.CASCADE)),
                ('number', fields.IntField()),
                ('title', fields.CharField(max_length=100)),
                ('description', fields.TextField(default='', unique=False)),
                ('cost', fields.DecimalField(max_digits=12, decimal_places=2)),
                ('responsible', fields.CharField(max_length=100)),
                ('scope', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('photos', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('origin', fields.CharField(max_length=12)),
                ('proposal', fields.ForeignKeyField('models.Proposal', source_field='proposal_id', null=True, db_constraint=True, to_field='id', related_name='menu_items', on_delete=OnDelete.SET_NULL)),
                ('status', fields.CharField(default='listed', max_length=16)),
                ('budget', fields.DecimalField(null=True, max_digits=12, decimal_places=2)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'budget_item', 'app': 'models', 'unique_together': (('round', 'number'),), 'pk_attr': 'id', 'table_description': "A project on the menu (项目库): a reviewed proposal or a department's project."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ItemRating',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('item', fields.ForeignKeyField('models.MenuItem', source_field='item_id', db_constraint=True, to_field='id', related_name='ratings', on_delete=OnDelete.CASCADE)),
                ('household', fields.ForeignKeyField('models.Household', source_field='household_id', db_constraint=True, to_field='id', related_name='item_ratings', on_delete=OnDelete.CASCADE)),
                ('stars', fields.SmallIntField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'budget_rating', 'app': 'models', 'unique_together': (('item', 'household'),), 'pk_attr': 'id', 'table_description': "A household's satisfaction (1-5) with a finished project: a re-rating replaces it."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MenuComment',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('item', fields.ForeignKeyField('models.MenuItem', source_field='item_id', db_constraint=True, to_field='id', related_name='comments', on_delete=OnDelete.CASCADE)),
                ('resident', fields.ForeignKeyField('models.Resident', source_field='resident_id', null=True, db_constraint=True, to_field='id', related_name='menu_comments', on_delete=OnDelete.SET_NULL)),
                ('text', fields.TextField(unique=False)),
                ('hidden_reason', fields.TextField(null=True, unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'budget_comment', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A comment on a menu item while the menu is published. Hidden with a reason, never'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Order',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('round', fields.ForeignKeyField('models.Round', source_field='round_id', db_constraint=True, to_field='id', related_name='orders', on_delete=OnDelete.CASCADE)),
                ('elector', fields.ForeignKeyField('models.BudgetElector', source_field='elector_id', db_constraint=True, to_field='id', related_name='orders', on_delete=OnDelete.CASCADE)),
                ('items', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('resident', fields.ForeignKeyField('models.Resident', source_field='resident_id', null=True, db_constraint=True, to_field='id', related_name='budget_orders', on_delete=OnDelete.SET_NULL)),
                ('channel', fields.CharField(default='online', max_length=12)),
                ('recorded_by', fields.ForeignKeyField('models.Resident', source_field='recorded_by_id', null=True, db_constraint=True, to_field='id', related_name='budget_orders_recorded', on_delete=OnDelete.SET_NULL)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'budget_order', 'app': 'models', 'unique_together': (('round', 'elector'),), 'pk_attr': 'id', 'table_description': "A household's one order (点菜): the item ids it wants. A change overwrites it and"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Spending',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('item', fields.ForeignKeyField('models.MenuItem', source_field='item_id', db_constraint=True, to_field='id', related_name='spendings', on_delete=OnDelete.CASCADE)),
                ('amount', fields.DecimalField(max_digits=12, decimal_places=2)),
                ('spent_on', fields.DateField()),
                ('purpose', fields.CharField(max_length=200)),
                ('receipts', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('recorded_by', fields.ForeignKeyField('models.Resident', source_field='recorded_by_id', null=True, db_constraint=True, to_field='id', related_name='spendings', on_delete=OnDelete.SET_NULL)),
                ('over_reason', fields.TextField(null=True, unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'budget_spending', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Money spent on a funded project: amount, date, what for, receipts as media ids.'},
            bases=['Model'],
        ),
        ops.AlterModelOptions(
            name='HandledMessage',
            options={'table': 'handled_message', 'app': 'models', 'pk_attr': 'key', 'table_description': 'One row per message that took effect, committed with that effect. ``reply`` is'},
        ),
    ]
