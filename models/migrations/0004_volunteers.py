from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0003_complaints')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Reward',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('community', fields.ForeignKeyField('models.Community', source_field='community_id', db_constraint=True, to_field='id', related_name='rewards', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=64)),
                ('description', fields.TextField(default='', unique=False)),
                ('cost', fields.IntField()),
                ('stock', fields.IntField(default=0)),
                ('active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'volunteer_reward', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Something volunteers exchange points for (积分兑换), with what is left in stock.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Redemption',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('reward', fields.ForeignKeyField('models.Reward', source_field='reward_id', db_constraint=True, to_field='id', related_name='redemptions', on_delete=OnDelete.CASCADE)),
                ('volunteer', fields.ForeignKeyField('models.Resident', source_field='volunteer_id', db_constraint=True, to_field='id', related_name='redemptions', on_delete=OnDelete.CASCADE)),
                ('cost', fields.IntField()),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'volunteer_redemption', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='VolunteerProfile',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('resident', fields.OneToOneField('models.Resident', source_field='resident_id', db_constraint=True, to_field='id', related_name='volunteer_profile', on_delete=OnDelete.CASCADE)),
                ('community', fields.ForeignKeyField('models.Community', source_field='community_id', db_constraint=True, to_field='id', related_name='volunteer_profiles', on_delete=OnDelete.CASCADE)),
                ('skills', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('birth_year', fields.SmallIntField(null=True)),
                ('active', fields.BooleanField(default=True)),
                ('registered_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'volunteer_profile', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A resident registered as a volunteer (网上注册), with skills and a birth year.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='VolunteerTeam',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('community', fields.ForeignKeyField('models.Community', source_field='community_id', db_constraint=True, to_field='id', related_name='volunteer_teams', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=64)),
                ('category', fields.CharField(default='event', max_length=24)),
                ('leader', fields.ForeignKeyField('models.Resident', source_field='leader_id', null=True, db_constraint=True, to_field='id', related_name='led_teams', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'volunteer_team', 'app': 'models', 'unique_together': (('community', 'name'),), 'pk_attr': 'id', 'table_description': '志愿服务队: patrol, cleaning, elderly care and the like, with a leader.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Activity',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('community', fields.ForeignKeyField('models.Community', source_field='community_id', db_constraint=True, to_field='id', related_name='volunteer_activities', on_delete=OnDelete.CASCADE)),
                ('team', fields.ForeignKeyField('models.VolunteerTeam', source_field='team_id', null=True, db_constraint=True, to_field='id', related_name='activities', on_delete=OnDelete.SET_NULL)),
                ('title', fields.CharField(max_length=100)),
                ('description', fields.TextField(default='', unique=False)),
                ('category', fields.CharField(default='event', max_length=24)),
                ('place', fields.CharField(default='', max_length=100)),
                ('latitude', fields.FloatField(null=True)),
                ('longitude', fields.FloatField(null=True)),
                ('radius_m', fields.IntField(default=200)),
                ('required_skills', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('status', fields.CharField(default='open', max_length=16)),
                ('created_by', fields.ForeignKeyField('models.Resident', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name='volunteer_activities', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'volunteer_activity', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A volunteer activity at a place: coordinates and a radius for check-in by location.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Shift',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('activity', fields.ForeignKeyField('models.Activity', source_field='activity_id', db_constraint=True, to_field='id', related_name='shifts', on_delete=OnDelete.CASCADE)),
                ('starts_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('ends_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('capacity', fields.IntField()),
                ('confirmed_count', fields.IntField(default=0)),
                ('waitlist_count', fields.IntField(default=0)),
                ('min_age', fields.SmallIntField(null=True)),
                ('skills', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'volunteer_shift', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One time slot of an activity with a capacity.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SignUp',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('shift', fields.ForeignKeyField('models.Shift', source_field='shift_id', db_constraint=True, to_field='id', related_name='signups', on_delete=OnDelete.CASCADE)),
                ('volunteer', fields.ForeignKeyField('models.Resident', source_field='volunteer_id', db_constraint=True, to_field='id', related_name='volunteer_signups', on_delete=OnDelete.CASCADE)),
                ('status', fields.CharField(db_index=True, max_length=16)),
                ('position', fields.IntField(null=True)),
                ('signed_up_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('confirmed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('cancelled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('checked_in_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('checked_out_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('minutes', fields.IntField(null=True)),
                ('points', fields.IntField(null=True)),
                ('reminded_day_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('reminded_hour_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'volunteer_signup', 'app': 'models', 'unique_together': (('shift', 'volunteer'),), 'indexes': [Index(fields=['volunteer_id', 'status'])], 'pk_attr': 'id', 'table_description': 'A volunteer on a shift: confirmed, waitlisted at a position, cancelled, no-show, attended.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CheckRecord',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('signup', fields.ForeignKeyField('models.SignUp', source_field='signup_id', db_constraint=True, to_field='id', related_name='checks', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(max_length=8)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('method', fields.CharField(max_length=16)),
                ('latitude', fields.FloatField(null=True)),
                ('longitude', fields.FloatField(null=True)),
                ('distance_m', fields.IntField(null=True)),
            ],
            options={'table': 'volunteer_check', 'app': 'models', 'pk_attr': 'id', 'table_description': '签到 and 签退, kept for inspection (留档备查): when, how, and where from.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PointsEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('community', fields.ForeignKeyField('models.Community', source_field='community_id', db_constraint=True, to_field='id', related_name='points_entries', on_delete=OnDelete.CASCADE)),
                ('volunteer', fields.ForeignKeyField('models.Resident', source_field='volunteer_id', db_constraint=True, to_field='id', related_name='points_entries', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(max_length=16)),
                ('points', fields.IntField()),
                ('signup', fields.ForeignKeyField('models.SignUp', source_field='signup_id', null=True, db_constraint=True, to_field='id', related_name='points_entries', on_delete=OnDelete.SET_NULL)),
                ('redemption', fields.ForeignKeyField('models.Redemption', source_field='redemption_id', null=True, db_constraint=True, to_field='id', related_name='points_entries', on_delete=OnDelete.SET_NULL)),
                ('reason', fields.TextField(default='', unique=False)),
                ('actor', fields.CharField(max_length=64)),
                ('at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'volunteer_points', 'app': 'models', 'indexes': [Index(fields=['volunteer_id', 'at']), Index(fields=['community_id', 'at'])], 'pk_attr': 'id', 'table_description': 'One line of the points ledger: earned, bonus, redeemed or adjusted, never changed.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TeamMember',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('team', fields.ForeignKeyField('models.VolunteerTeam', source_field='team_id', db_constraint=True, to_field='id', related_name='members', on_delete=OnDelete.CASCADE)),
                ('resident', fields.ForeignKeyField('models.Resident', source_field='resident_id', db_constraint=True, to_field='id', related_name='team_memberships', on_delete=OnDelete.CASCADE)),
                ('joined_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'volunteer_team_member', 'app': 'models', 'unique_together': (('team', 'resident'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
