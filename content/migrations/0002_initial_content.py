"""Load the initial FAQ and articles (content/initial/) so a fresh install has them.

Runs the same loader as ``manage.py seed_content``, with this migration's historical
models. Reversing it deletes nothing: by then editors may have changed the content.
"""

from django.db import migrations


def load_initial_content(apps, schema_editor):
    from content.initial import ContentModels, seed_content

    seed_content(ContentModels.from_apps(apps))


class Migration(migrations.Migration):
    dependencies = [("content", "0001_faq_and_articles")]

    operations = [migrations.RunPython(load_initial_content, migrations.RunPython.noop)]
