FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
RUN useradd --create-home --uid 10001 app
COPY requirements.txt requirements-build.txt ./
RUN pip install -r requirements-build.txt && pip install --no-build-isolation -r requirements.txt
COPY . .
# Static files are collected at build time with a throwaway key; the real one comes at run time.
RUN SECRET_KEY=build-only-collectstatic python manage.py collectstatic --noinput
USER app
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
