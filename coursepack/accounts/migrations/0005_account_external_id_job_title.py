from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0004_token_expiry"),
    ]

    operations = [
        migrations.AddField(
            model_name="account",
            name="external_id",
            field=models.CharField(blank=True, max_length=64, null=True, unique=True),
        ),
        migrations.AddField(
            model_name="account",
            name="job_title",
            field=models.CharField(blank=True, default="", max_length=200),
        ),
    ]
