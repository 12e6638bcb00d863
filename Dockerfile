# One image for every Chairside process: the web server (gunicorn), the Celery worker and
# Celery beat. docker-compose.yml shows how they fit together.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # The code runs from /app, next to templates/ and static/.
    PYTHONPATH=/app \
    DJANGO_SETTINGS_MODULE=clinic.settings \
    # Outgoing mail and SMS land in files here until EMAIL_HOST / SMS_BACKEND are set.
    CHAIRSIDE_DATA_DIR=/data \
    CELERY_BEAT_SCHEDULE_FILENAME=/data/celerybeat-schedule

WORKDIR /app

# Dependencies first, at the versions CI tested (constraints.txt), so this layer is reused
# until pyproject.toml or constraints.txt change.
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -c constraints.txt -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY . .
# Registers the chairside distribution; the code itself runs from /app (PYTHONPATH above).
RUN pip install --no-deps -c constraints.txt . \
    && rm -rf build *.egg-info

# Static files are collected into the image and served by WhiteNoise. Settings need a
# secret key and a database URL to load; these build-time values are never used to serve.
RUN DEBUG=0 \
    SECRET_KEY=collectstatic-at-build-time-only-not-a-real-secret-key-0123456789 \
    DATABASE_URL=postgres://build@localhost/build \
    REDIS_URL=redis://localhost:6379/0 \
    python manage.py collectstatic --noinput

RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin chairside \
    && mkdir -p /data \
    && chown chairside:chairside /data
USER chairside

EXPOSE 8000
CMD ["gunicorn", "clinic.wsgi", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
