from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0007_wecom_users')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ConsoleLogin',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('resident', fields.OneToOneField('models.Resident', source_field='resident_id', db_constraint=True, to_field='id', related_name='console_login', on_delete=OnDelete.CASCADE)),
                ('login', fields.CharField(unique=True, max_length=64)),
                ('password_hash', fields.CharField(max_length=256)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'console_login', 'app': 'models', 'pk_attr': 'id', 'table_description': "The console password of a community worker: an argon2id hash, never the password."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MiniProgramUser',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('appid', fields.CharField(max_length=64)),
                ('openid', fields.CharField(max_length=64)),
                ('resident', fields.ForeignKeyField('models.Resident', source_field='resident_id', db_constraint=True, to_field='id', related_name='miniprogram_users', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'miniprogram_user', 'app': 'models', 'unique_together': (('appid', 'openid'),), 'pk_attr': 'id', 'table_description': "The mini-program openid of a resident, which differs from the official account openid."},
            bases=['Model'],
        ),
    ]
